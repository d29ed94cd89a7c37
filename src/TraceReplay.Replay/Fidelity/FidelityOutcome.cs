namespace TraceReplay.Replay.Fidelity;

/// <summary>What the capture says about one packet's prediction (packets.observed).</summary>
public enum FidelityOutcome : byte
{
    /// <summary>Nothing to say for this row (an incoming later sighting, a frame that is not IP): NULL.</summary>
    None,

    /// <summary>Seen leaving by the predicted interface with the predicted tuple (after NAT).</summary>
    Explained,

    /// <summary>Predicted dropped (or queued), yet seen leaving the host.</summary>
    SeenThoughDropped,

    /// <summary>Predicted to leave by an interface the capture covers, never seen there within the correlator's window.</summary>
    PredictedUnseen,

    /// <summary>Seen leaving, but only by interfaces the prediction did not name (or predicted delivered locally).</summary>
    OtherInterface,

    /// <summary>Seen leaving by the predicted interface with the predicted addresses but other ports: the kernel's NAT port search is random, so counted apart.</summary>
    NatPortDiffers,

    /// <summary>Seen leaving by the predicted interface with other addresses (or protocol) than predicted.</summary>
    NatOtherDiffers,

    /// <summary>Nothing to check: delivered locally, dropped and not seen, or predicted to leave by an interface the capture does not cover.</summary>
    NotApplicable,

    /// <summary>Seen leaving, but never an input of the simulation (first seen leaving a bridge port, no direction known): unexplained.</summary>
    NotSimulated,
}

public static class FidelityOutcomes
{
    /// <summary>The text stored in packets.observed and the fidelity table (shared strings: the writer copies their bytes).</summary>
    public static string? Name(FidelityOutcome o) => o switch
    {
        FidelityOutcome.Explained => "explained",
        FidelityOutcome.SeenThoughDropped => "seen_though_dropped",
        FidelityOutcome.PredictedUnseen => "predicted_unseen",
        FidelityOutcome.OtherInterface => "other_interface",
        FidelityOutcome.NatPortDiffers => "nat_port_differs",
        FidelityOutcome.NatOtherDiffers => "nat_other_differs",
        FidelityOutcome.NotApplicable => "not_applicable",
        FidelityOutcome.NotSimulated => "not_simulated",
        _ => null,
    };

    /// <summary>Whether the outcome means the packet was seen leaving the host (it counts in observed_egress).</summary>
    public static bool IsObservedEgress(FidelityOutcome o) =>
        o is FidelityOutcome.Explained or FidelityOutcome.SeenThoughDropped or FidelityOutcome.OtherInterface
            or FidelityOutcome.NatPortDiffers or FidelityOutcome.NatOtherDiffers or FidelityOutcome.NotSimulated;
}
