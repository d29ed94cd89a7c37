namespace TraceReplay.Analytics.Anomaly;

/// <summary>What a window is about. Each kind has its own model: a service's normal is not a host's.</summary>
public enum EntityKind : byte
{
    /// <summary>An address, as the source of connections and packets (and their destination).</summary>
    Host,

    /// <summary>A destination service: address:port/protocol as the client addressed it (before DNAT).</summary>
    Service,

    /// <summary>A NAT address (the new source of SNAT/MASQUERADE).</summary>
    Nat,

    /// <summary>The conntrack table as a whole (entity "conntrack").</summary>
    Table,
}

/// <summary>One entity in one time bucket with its raw feature values (<see cref="FeatureSchema"/> order).</summary>
public sealed record FeatureWindow(EntityKind Kind, string Entity, long BucketStartUs, double[] Values)
{
    public DateTimeOffset Start => DateTimeOffset.FromUnixTimeMilliseconds(BucketStartUs / 1000);
}
