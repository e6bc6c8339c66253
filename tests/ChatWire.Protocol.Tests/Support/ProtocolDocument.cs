using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace ChatWire.Protocol.Tests.Support;

/// <summary>One <c>vector</c> block of docs/protocol.md §7.</summary>
internal sealed record DocumentVector(string Name, string Opcode, string FieldsJson, byte[] Frame, bool Reencodes);

/// <summary>One row of the error table of docs/protocol.md §6.</summary>
internal sealed record DocumentErrorRow(int Code, string Name, bool Closes, string HttpStatus);

/// <summary>Reads the machine-readable parts of docs/protocol.md.</summary>
internal static partial class ProtocolDocument
{
    private static readonly string[] VectorKeys = ["name", "opcode", "fields", "hex", "reencodes"];

    public static string Text { get; } = File.ReadAllText(System.IO.Path.Combine(RepositoryRoot.Path, "docs", "protocol.md"));

    public static IReadOnlyList<DocumentVector> Vectors { get; } = ParseVectors(Text);

    public static IReadOnlyList<DocumentErrorRow> ErrorTable { get; } = ParseErrorTable(Text);

    /// <summary>The wire name of an opcode as the document writes it: <c>AuthOk</c> → <c>AUTH_OK</c>.</summary>
    public static string WireName(Opcode opcode) => Opcodes.Name(opcode);

    public static IReadOnlyList<DocumentVector> ParseVectors(string markdown)
    {
        var vectors = new List<DocumentVector>();
        Dictionary<string, StringBuilder>? block = null;
        string? key = null;
        foreach (var line in markdown.Split('\n'))
        {
            var trimmed = line.TrimEnd('\r');
            if (block is null)
            {
                if (trimmed.Trim() == "```vector")
                {
                    block = [];
                    key = null;
                }

                continue;
            }

            if (trimmed.Trim() == "```")
            {
                vectors.Add(ToVector(block));
                block = null;
                continue;
            }

            var match = KeyLine().Match(trimmed);
            if (match.Success)
            {
                key = match.Groups[1].Value;
                if (!VectorKeys.Contains(key))
                {
                    throw new FormatException($"Unknown key '{key}' in a vector block.");
                }

                if (block.ContainsKey(key))
                {
                    throw new FormatException($"Key '{key}' repeated in a vector block.");
                }

                block[key] = new StringBuilder(match.Groups[2].Value);
            }
            else if (key is not null && trimmed.Length > 0 && char.IsWhiteSpace(trimmed[0]))
            {
                block[key].Append('\n').Append(trimmed.Trim());
            }
            else if (trimmed.Trim().Length > 0)
            {
                throw new FormatException($"Unexpected line in a vector block: '{trimmed}'.");
            }
        }

        if (block is not null)
        {
            throw new FormatException("A vector block is not closed.");
        }

        return vectors;
    }

    public static IReadOnlyList<DocumentErrorRow> ParseErrorTable(string markdown)
    {
        var section = Section(markdown, "## 6.");
        var rows = new List<DocumentErrorRow>();
        foreach (var line in section.Split('\n'))
        {
            var cells = line.Trim().Trim('|').Split('|').Select(c => c.Trim()).ToArray();
            if (cells.Length != 5 || !int.TryParse(cells[0], NumberStyles.None, CultureInfo.InvariantCulture, out var code))
            {
                continue;
            }

            var closes = cells[3] switch
            {
                "yes" => true,
                "no" => false,
                _ => throw new FormatException($"Closes column of {cells[1]} is '{cells[3]}', not yes or no."),
            };
            rows.Add(new DocumentErrorRow(code, cells[1], closes, cells[4]));
        }

        return rows;
    }

    /// <summary>The text from the heading starting with <paramref name="headingPrefix"/> to the next heading of the same level.</summary>
    public static string Section(string markdown, string headingPrefix)
    {
        var start = markdown.IndexOf("\n" + headingPrefix, StringComparison.Ordinal);
        if (start < 0)
        {
            throw new FormatException($"No heading '{headingPrefix}'.");
        }

        var level = headingPrefix[..(headingPrefix.IndexOf(' ', StringComparison.Ordinal) + 1)];
        var end = markdown.IndexOf("\n" + level, start + 1, StringComparison.Ordinal);
        return end < 0 ? markdown[start..] : markdown[start..end];
    }

    private static DocumentVector ToVector(Dictionary<string, StringBuilder> block)
    {
        string Required(string key) =>
            block.TryGetValue(key, out var value) ? value.ToString() : throw new FormatException($"A vector block has no '{key}'.");

        var name = Required("name").Trim();
        var reencodes = !block.TryGetValue("reencodes", out var flag) || flag.ToString().Trim() switch
        {
            "true" => true,
            "false" => false,
            var other => throw new FormatException($"Vector {name}: reencodes is '{other}'."),
        };
        return new DocumentVector(name, Required("opcode").Trim(), Required("fields"), ParseHex(name, Required("hex")), reencodes);
    }

    private static byte[] ParseHex(string name, string hex)
    {
        var tokens = hex.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var bytes = new byte[tokens.Length];
        for (var i = 0; i < tokens.Length; i++)
        {
            if (tokens[i].Length != 2 || !byte.TryParse(tokens[i], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out bytes[i]))
            {
                throw new FormatException($"Vector {name}: '{tokens[i]}' is not a hex byte.");
            }
        }

        return bytes;
    }

    [GeneratedRegex("^([a-z_]+):[ ]?(.*)$")]
    private static partial Regex KeyLine();
}
