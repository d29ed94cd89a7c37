using System.Globalization;
using TraceReplay.KernelTests.Framework;

namespace TraceReplay.KernelTests.Scenarios;

/// <summary>
/// Scenario 6 of issue 6 (second half), a full conntrack table: a server host h (10.7.0.1) and a
/// client c (10.7.0.2) on one veth. nf_conntrack_max is lowered to <see cref="Max"/>; the client holds
/// <see cref="Max"/> TCP connections open (each ASSURED by its handshake's last ACK: the SYN_RECV →
/// ESTABLISHED transition in nf_conntrack_proto_tcp.c), then tries one more. __nf_conntrack_alloc finds
/// the count over the max, early_drop scans the new tuple's NF_CT_EVICTION_RANGE buckets and finds
/// nothing it may drop (every entry is ASSURED), so nf_conntrack_in drops the SYN ("nf_conntrack: table
/// full, dropping packet") before filter INPUT: raw PREROUTING counts both of its SYNs (the client
/// retries once within 2 s), filter INPUT's NEW rule only the admitted ones.
/// Which non-assured entry early_drop would free depends on the kernel's random hash seed (it scans 8
/// buckets of 262144 from the new tuple's), so the scenario leaves none to free.
/// </summary>
public static class TableFullScenario
{
    public const int Max = 4;

    public const string Rules = """
        *raw
        :PREROUTING ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        -A PREROUTING -p tcp -m tcp --tcp-flags SYN,ACK SYN
        COMMIT
        *filter
        :INPUT ACCEPT [0:0]
        :FORWARD ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        -A INPUT -p tcp -m conntrack --ctstate NEW -j ACCEPT
        -A INPUT -m conntrack --ctstate ESTABLISHED -j ACCEPT
        COMMIT

        """;

    /// <summary>Records the scenario; <paramref name="lowerMax"/> sets the machine-wide nf_conntrack_max (the caller restores it).</summary>
    public static void Record(KernelLab lab, string dir, Action lowerMax)
    {
        ArgumentNullException.ThrowIfNull(lowerMax);
        lab.AddNamespace("h");
        lab.AddNamespace("c");
        lab.Veth("h", "eth0", "c", "eth0");
        lab.Exec("h", "ip addr add 10.7.0.1/24 dev eth0 && ip link set eth0 up");
        lab.Exec("c", "ip addr add 10.7.0.2/24 dev eth0 && ip link set eth0 up");
        lab.Restore("h", "iptables-restore", Rules);
        for (int i = 1; i <= Max + 1; i++)
            lab.Start("h", string.Create(CultureInfo.InvariantCulture, $"exec nc -l -p {5000 + i} >/dev/null"));
        // Neighbours resolved before the capture: the table full case needs nothing else in the capture.
        lab.Exec("c", "ping -c 1 -W 1 10.7.0.1 >/dev/null");
        Thread.Sleep(300);

        lowerMax();
        var rec = new ScenarioRecorder(lab, "h", dir);
        rec.Start();
        for (int i = 1; i <= Max; i++)
            lab.Start("c", string.Create(CultureInfo.InvariantCulture, $"sleep 30 | nc 10.7.0.1 {5000 + i}"));
        // Every connection established (and so ASSURED) before the one too many.
        for (int tries = 0; tries < 50 && CountEstablished(lab) < Max; tries++)
            Thread.Sleep(100);
        Thread.Sleep(200);
        lab.Try("c", string.Create(CultureInfo.InvariantCulture, $"nc -z -w 2 10.7.0.1 {5000 + Max + 1}"));
        rec.Finish();
    }

    private static int CountEstablished(KernelLab lab) =>
        lab.Exec("c", "ss -Htn state established dst 10.7.0.1").Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
}
