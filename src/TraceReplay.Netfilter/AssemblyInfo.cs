// The simulated kernel: one folder per kernel subsystem (Conntrack, Nat, Tables, Xt, Hooks, Routing, Bridge).
// It knows nothing of files, Arrow or DuckDB (DESIGN.md: dependencies point one way).
[assembly: CLSCompliant(false)]
