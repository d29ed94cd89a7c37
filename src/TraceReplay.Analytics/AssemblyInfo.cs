// The answers users come with, as SQL over the run database (drops, NAT usage, rule usage) and models over connection state.
[assembly: CLSCompliant(false)]
