// The pipeline as named stages, Suricata-style: receive (Capture) → correlate sightings → hook graph → output (Store).
[assembly: CLSCompliant(false)]
