using System.Net;
using PacketDotNet;
using TraceReplay.Netfilter.Tables;
using TraceReplay.Tests.Netfilter.Tables;
using TraceReplay.Tests.Support;
using static TraceReplay.Tests.Netfilter.Tables.TableHarness;
using static TraceReplay.Tests.Netfilter.Xt.XtMatchTests;

namespace TraceReplay.Tests.Netfilter.Xt;

/// <summary>quota, esp/ah, tcpmss, string and time, each against the kernel function named on the test.</summary>
public sealed class XtPayloadTimeMatchTests
{
    private static TestPacket UdpWith(byte[] payload)
    {
        var udp = new UdpPacket(5000, 53) { PayloadData = payload };
        var ip = new IPv4Packet(IPAddress.Parse("10.0.0.1"), IPAddress.Parse("192.0.2.7")) { TimeToLive = 64, PayloadPacket = udp };
        ip.UpdateCalculatedValues();
        udp.UpdateCalculatedValues();
        return new TestPacket(new EthernetPacket(Frames.MacA, Frames.MacB, EthernetType.IPv4) { PayloadPacket = ip }.Bytes);
    }

    private static TestPacket Esp(uint spi)
    {
        var esp = new byte[16];
        esp[0] = (byte)(spi >> 24);
        esp[1] = (byte)(spi >> 16);
        esp[2] = (byte)(spi >> 8);
        esp[3] = (byte)spi;
        esp[7] = 1; // sequence number
        var ip = new IPv4Packet(IPAddress.Parse("10.0.0.1"), IPAddress.Parse("192.0.2.7"))
        {
            TimeToLive = 64,
            Protocol = ProtocolType.IPSecEncapsulatingSecurityPayload,
            PayloadData = esp,
        };
        ip.UpdateCalculatedValues();
        return new TestPacket(new EthernetPacket(Frames.MacA, Frames.MacB, EthernetType.IPv4) { PayloadPacket = ip }.Bytes);
    }

    [Fact]
    public void Quota_counts_down_and_closes()
    {
        // quota_mt: 100 bytes, 40-byte packets: 60 left, 20 left, then 40 > 20 zeroes the budget.
        var t = Filter("-A FORWARD -m quota --quota 100 -j ACCEPT\n-A FORWARD -j DROP");
        var seq = string.Concat(Enumerable.Range(0, 4).Select(_ => Run(t, Tcp()).Verdict == XtVerdict.Accept ? "T" : "F"));
        Assert.Equal("TTFF", seq);
    }

    [Fact]
    public void Esp_spi()
    {
        Assert.Equal(Tristate.True, Eval("-p esp -m esp --espspi 256:300", Esp(0x100)));
        Assert.Equal(Tristate.False, Eval("-p esp -m esp --espspi 257", Esp(0x100)));
        Assert.Equal(Tristate.True, Eval("-p esp -m esp ! --espspi 257", Esp(0x100)));
    }

    [Fact]
    public void Tcpmss_reads_the_mss_option()
    {
        // SynWithMss carries MSS 1460 (kind 2, length 4, 0x05b4).
        Assert.Equal(Tristate.True, Eval("-p tcp -m tcpmss --mss 1400:1500", SynWithMss()));
        Assert.Equal(Tristate.False, Eval("-p tcp -m tcpmss --mss 536", SynWithMss()));
        Assert.Equal(Tristate.False, Eval("-p tcp -m tcpmss --mss 1:65535", Tcp()));
        Assert.Equal(Tristate.True, Eval("-p tcp -m tcpmss ! --mss 536", Tcp()));
    }

    [Fact]
    public void String_searches_from_the_ip_header()
    {
        // "evil" at payload offset 4: IP 20 + UDP 8 + 4 = bytes [32, 36) of the datagram.
        var pkt = UdpWith("abcdevil-xyz"u8.ToArray());
        Assert.Equal(Tristate.True, Eval("-m string --string evil --algo bm", pkt));
        Assert.Equal(Tristate.True, Eval("-m string --string evil --algo kmp --to 36", pkt));
        Assert.Equal(Tristate.False, Eval("-m string --string evil --algo bm --to 35", pkt)); // must end within [from, to)
        Assert.Equal(Tristate.False, Eval("-m string --string evil --algo bm --from 33", pkt));
        Assert.Equal(Tristate.False, Eval("-m string --string EVIL --algo bm", pkt));
        Assert.Equal(Tristate.True, Eval("-m string --string EVIL --algo bm --icase", pkt));
        Assert.Equal(Tristate.True, Eval("-m string --hex-string \"|65 76 69 6c|\" --algo bm", pkt));
        Assert.Equal(Tristate.True, Eval("-m string ! --string good --algo bm", pkt));

        // A capture cut before the pattern: no match in what was kept, so unknown.
        var cut = pkt.Frame[..(14 + 30)];
        TraceReplay.Capture.Decode.PacketDecoder.Decode(cut, TraceReplay.Capture.LinkType.Ethernet, pkt.Frame.Length, out var d);
        Assert.Equal(Tristate.Unknown, Eval("-m string --string evil --algo bm", new TestPacket(cut) { Decoded = d }));
    }

    private static long At(string iso) => DateTimeOffset.Parse(iso, System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeMilliseconds() * 1_000_000;

    [Fact]
    public void Time_on_the_capture_clock()
    {
        // 2026-11-26 is a Thursday, 2026-11-28 a Saturday, 2026-11-24 a Tuesday (all UTC).
        const string Office = "-m time --timestart 09:00 --timestop 17:00 --weekdays Mon,Tue,Wed,Thu,Fri";
        Assert.Equal(Tristate.True, Eval(Office, Tcp(), timeNs: At("2026-11-26T12:00:00Z")));
        Assert.Equal(Tristate.False, Eval(Office, Tcp(), timeNs: At("2026-11-26T17:00:01Z")));
        Assert.Equal(Tristate.True, Eval(Office, Tcp(), timeNs: At("2026-11-26T17:00:00Z")));
        Assert.Equal(Tristate.False, Eval(Office, Tcp(), timeNs: At("2026-11-28T12:00:00Z")));

        // Past midnight: Tuesday 00:30 is "Monday night" only with --contiguous.
        Assert.Equal(Tristate.False, Eval("-m time --timestart 23:00 --timestop 01:00 --weekdays Mon", Tcp(), timeNs: At("2026-11-24T00:30:00Z")));
        Assert.Equal(Tristate.True, Eval("-m time --timestart 23:00 --timestop 01:00 --weekdays Mon --contiguous", Tcp(), timeNs: At("2026-11-24T00:30:00Z")));

        Assert.Equal(Tristate.True, Eval("-m time --monthdays 26", Tcp(), timeNs: At("2026-11-26T12:00:00Z")));
        Assert.Equal(Tristate.False, Eval("-m time --monthdays 25", Tcp(), timeNs: At("2026-11-26T12:00:00Z")));
        Assert.Equal(Tristate.False, Eval("-m time --datestart 2026-12-01T00:00:00", Tcp(), timeNs: At("2026-11-26T12:00:00Z")));
        Assert.Equal(Tristate.True, Eval("-m time --datestop 2026-12-01T00:00:00", Tcp(), timeNs: At("2026-11-26T12:00:00Z")));

        // The host's time zone is not in the snapshot.
        Assert.Equal(Tristate.Unknown, Eval("-m time --timestart 09:00 --kerneltz", Tcp(), timeNs: At("2026-11-26T12:00:00Z")));
    }
}

/// <summary>connbytes and helper read the conntrack entry's accounting and master helper.</summary>
public sealed class XtConntrackExtrasTests
{
    private static ParamSetup Acct(ulong op, ulong ob, ulong rp, ulong rb, string? helper = null) => (ref XtActionParam p) =>
        p.Ct = new NfCtInfo
        {
            State = TraceReplay.Netfilter.Conntrack.CtState.Established,
            OrigPackets = op,
            OrigBytes = ob,
            ReplyPackets = rp,
            ReplyBytes = rb,
            MasterHelper = helper,
            HasAcct = true,
        };

    [Theory]
    [InlineData("-m connbytes --connbytes 10: --connbytes-dir both --connbytes-mode packets", true)] // 6 + 5 = 11
    [InlineData("-m connbytes --connbytes 10: --connbytes-dir original --connbytes-mode packets", false)]
    [InlineData("-m connbytes --connbytes 0:5000 --connbytes-dir reply --connbytes-mode bytes", true)] // 4000
    [InlineData("-m connbytes ! --connbytes 0:5000 --connbytes-dir reply --connbytes-mode bytes", false)]
    [InlineData("-m connbytes --connbytes 500:1000 --connbytes-dir both --connbytes-mode avgpkt", true)]
    public void Connbytes(string spec, bool expected)
    {
        // avgpkt both: (bytes 1600 + 4000) / (6 + 5) = 509 (integer division, as div64_u64).
        Assert.Equal(expected ? Tristate.True : Tristate.False, Eval(spec, Tcp(), Acct(6, 1600, 5, 4000)));
    }

    [Fact]
    public void Connbytes_without_an_entry_and_helper()
    {
        Assert.Equal(Tristate.False, Eval("-m connbytes --connbytes 0: --connbytes-dir both --connbytes-mode packets", Tcp()));
        Assert.Equal(Tristate.True, Eval("-m helper --helper ftp", Tcp(), Acct(1, 1, 1, 1, "ftp")));
        Assert.Equal(Tristate.True, Eval("-m helper --helper ftp-2121", Tcp(), Acct(1, 1, 1, 1, "ftp"))); // strncmp over strlen("ftp")
        Assert.Equal(Tristate.False, Eval("-m helper --helper sip", Tcp(), Acct(1, 1, 1, 1, "ftp")));
        Assert.Equal(Tristate.True, Eval("-m helper ! --helper sip", Tcp(), Acct(1, 1, 1, 1)));
    }
}
