using System.Globalization;

namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>One classic BPF instruction (struct sock_filter).</summary>
public readonly record struct BpfInstruction(ushort Code, byte JumpTrue, byte JumpFalse, uint K);

/// <summary>
/// `-m bpf --bytecode "N,code jt jf k,…"` (extensions/libxt_bpf.c; kernel xt_bpf.c): a classic BPF
/// program run on the packet from its network header (nfbpf_compile / tcpdump -ddd output). A pinned
/// eBPF object (--object-pinned) is host state: evaluated as unknown.
/// </summary>
[XtMatch("bpf")]
public sealed class BpfMatch : XtMatch
{
    private const int MaxInstructions = 64; // XT_BPF_MAX_NUM_INSTR

    public IReadOnlyList<BpfInstruction> Program { get; private set; } = [];
    public string? PinnedPath { get; private set; }

    public override bool IsOfflineUnknowable => PinnedPath is not null;

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--bytecode":
            {
                o.NoInvert();
                if (Program.Count > 0 || PinnedPath is not null)
                    throw o.Fail("only one program per match", o.Name, "one --bytecode or --object-pinned");
                Program = ParseBytecode(o, o.Arg("\"N,code jt jf k,...\" as printed by nfbpf_compile"));
                return true;
            }
            case "--object-pinned":
                o.NoInvert();
                if (Program.Count > 0 || PinnedPath is not null)
                    throw o.Fail("only one program per match", o.Name, "one --bytecode or --object-pinned");
                PinnedPath = o.Arg("a path under /sys/fs/bpf");
                return true;
            default:
                return false;
        }
    }

    /// <summary>bpf_parse_string: a count, then that many `code jt jf k` quadruples separated by commas.</summary>
    private static List<BpfInstruction> ParseBytecode(XtOption o, string text)
    {
        string[] parts = text.Split(',');
        if (!ushort.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out ushort count) || count == 0 || count > MaxInstructions)
            throw o.Fail("bad program length", parts[0], $"an instruction count 1-{MaxInstructions}");
        if (parts.Length - 1 != count)
            throw o.Fail($"program length {count} does not match the {parts.Length - 1} instructions given", text, "N followed by N instructions");
        var program = new List<BpfInstruction>(count);
        for (int i = 1; i < parts.Length; i++)
        {
            string[] f = parts[i].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length != 4 || !ushort.TryParse(f[0], NumberStyles.None, CultureInfo.InvariantCulture, out ushort code)
                || !byte.TryParse(f[1], NumberStyles.None, CultureInfo.InvariantCulture, out byte jt) || !byte.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out byte jf)
                || !uint.TryParse(f[3], NumberStyles.None, CultureInfo.InvariantCulture, out uint k))
                throw o.Fail($"bad instruction {i}", parts[i], "code jt jf k (decimal)");
            program.Add(new BpfInstruction(code, jt, jf, k));
        }
        return program;
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (Program.Count == 0 && PinnedPath is null)
            throw check.Fail("needs --bytecode or --object-pinned", "--bytecode \"N,...\"");
    }

    /// <summary>bpf_save: the program in one quoted word, as the input format.</summary>
    public override void Save(SaveWriter w)
    {
        if (PinnedPath is not null)
        {
            w.Opt("--object-pinned", PinnedPath);
            return;
        }
        string code = XtValues.Dec((ulong)Program.Count) + "," + string.Join(',', Program.Select(i => $"{i.Code} {i.JumpTrue} {i.JumpFalse} {i.K}"));
        w.Opt("--bytecode", "\"" + code + "\"");
    }
}
