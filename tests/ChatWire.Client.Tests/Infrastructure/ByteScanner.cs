using System.Buffers;
using System.Globalization;
using System.Text;

namespace ChatWire.Client.Tests.Infrastructure;

/// <summary>A byte string to look for; text is also looked for in UTF-16LE.</summary>
internal sealed record Needle(string Name, byte[] Bytes, bool IsText)
{
    public static Needle Text(string name, string text) => new(name, Encoding.UTF8.GetBytes(text), true);
}

/// <summary>Where a needle was found.</summary>
internal sealed record ScanHit(string Needle, string Form, string Path, long Offset);

/// <summary>What a scan read and found.</summary>
internal sealed record ScanReport(IReadOnlyList<(string Path, long Bytes)> Files, IReadOnlyList<string> Unreadable, IReadOnlyList<ScanHit> Hits)
{
    public long TotalBytes => Files.Sum(f => f.Bytes);

    public IEnumerable<ScanHit> HitsOf(Needle needle) => Hits.Where(h => h.Needle == needle.Name);

    /// <summary>Every file read with its size, the unreadable ones and every hit: for failure messages.</summary>
    public string Describe() =>
        $"{Files.Count} files, {TotalBytes} bytes:\n"
        + string.Join('\n', Files.Select(f => $"  {f.Path} ({f.Bytes} B)"))
        + (Unreadable.Count == 0 ? "" : "\nunreadable:\n  " + string.Join("\n  ", Unreadable))
        + "\nhits:\n  " + string.Join("\n  ", Hits.Select(h => $"{h.Needle} as {h.Form} in {h.Path} at {h.Offset}"));
}

/// <summary>
/// Reads every byte of files and looks for needles in each form a server could keep them in: the raw bytes,
/// UTF-16LE (text), hex, and base64 and base64url at the three alignments a needle can have inside a longer
/// base64 text (only the characters that depend on the needle's bytes alone, so any surrounding bytes match).
/// One pass per file: the bytes are read as Latin-1 characters (one per byte) and searched for all forms at once.
/// </summary>
internal sealed class ByteScanner
{
    private const int ChunkBytes = 4 << 20;

    private readonly Dictionary<string, List<(string Needle, string Form)>> _forms = new(StringComparer.Ordinal);
    private readonly SearchValues<string> _search;
    private readonly int _longest;

    public ByteScanner(IEnumerable<Needle> needles)
    {
        foreach (var needle in needles)
        {
            foreach (var (form, bytes) in Forms(needle))
            {
                var key = Encoding.Latin1.GetString(bytes);
                if (!_forms.TryGetValue(key, out var owners))
                {
                    _forms[key] = owners = [];
                }

                owners.Add((needle.Name, form));
            }
        }

        _search = SearchValues.Create([.. _forms.Keys], StringComparison.Ordinal);
        _longest = _forms.Keys.Max(k => k.Length);
    }

    /// <summary>Scans every regular file under each root (a directory, or a single file).</summary>
    public ScanReport Scan(params string[] roots)
    {
        var files = new List<(string, long)>();
        var unreadable = new List<string>();
        var hits = new List<ScanHit>();
        foreach (var root in roots)
        {
            IEnumerable<string> paths = File.Exists(root)
                ? [root]
                : Directory.EnumerateFiles(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }).Order(StringComparer.Ordinal);
            foreach (var path in paths)
            {
                // A symbolic link's target is scanned where it lives; a Unix socket (services.sh names them *.sock)
                // holds no stored bytes and cannot be opened as a file.
                if (new FileInfo(path).LinkTarget is not null || path.EndsWith(".sock", StringComparison.Ordinal))
                {
                    continue;
                }

                try
                {
                    files.Add((path, ScanFile(path, hits)));
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    // A file removed while the scan ran (a temporary table, a rotated log): listed, not hidden.
                    unreadable.Add($"{path}: {ex.Message}");
                }
            }
        }

        return new ScanReport(files, unreadable, hits);
    }

    private long ScanFile(string path, List<ScanHit> hits)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16);
        var bytes = new byte[ChunkBytes + _longest];
        var chars = new char[bytes.Length];
        var carried = 0;
        long consumed = 0;
        long total = 0;
        while (true)
        {
            var read = stream.Read(bytes, carried, ChunkBytes);
            if (read == 0)
            {
                return total;
            }

            total += read;
            var length = carried + read;
            Encoding.Latin1.GetChars(bytes, 0, length, chars, 0);
            var text = chars.AsSpan(0, length);
            var at = 0;
            while (at < length)
            {
                var found = text[at..].IndexOfAny(_search);
                if (found < 0)
                {
                    break;
                }

                at += found;
                foreach (var (form, owners) in _forms)
                {
                    if (text[at..].StartsWith(form, StringComparison.Ordinal))
                    {
                        hits.AddRange(owners.Select(o => new ScanHit(o.Needle, o.Form, path, consumed + at)));
                    }
                }

                at++;
            }

            // The tail is kept for the next chunk, so a needle across the boundary is found; one wholly inside the
            // tail was found already and is found again (hits are evidence, not counts).
            carried = Math.Min(_longest - 1, length);
            Array.Copy(bytes, length - carried, bytes, 0, carried);
            consumed += length - carried;
        }
    }

    private static IEnumerable<(string Form, byte[] Bytes)> Forms(Needle needle)
    {
        yield return ("raw", needle.Bytes);
        if (needle.IsText)
        {
            yield return ("utf-16le", Encoding.Unicode.GetBytes(Encoding.UTF8.GetString(needle.Bytes)));
        }

        yield return ("hex", Encoding.ASCII.GetBytes(Convert.ToHexStringLower(needle.Bytes)));
        yield return ("HEX", Encoding.ASCII.GetBytes(Convert.ToHexString(needle.Bytes)));
        for (var shift = 0; shift < 3; shift++)
        {
            var stable = StableBase64(needle.Bytes, shift);
            yield return ($"base64@{shift.ToString(CultureInfo.InvariantCulture)}", Encoding.ASCII.GetBytes(stable));
            var url = stable.Replace('+', '-').Replace('/', '_');
            if (url != stable)
            {
                yield return ($"base64url@{shift.ToString(CultureInfo.InvariantCulture)}", Encoding.ASCII.GetBytes(url));
            }
        }
    }

    // The base64 characters of the needle preceded by `shift` other bytes, keeping only the 4-character groups
    // whose 3 bytes all belong to the needle: those are the same whatever comes before and after it.
    private static string StableBase64(byte[] needle, int shift)
    {
        var padded = new byte[shift + needle.Length];
        needle.CopyTo(padded, shift);
        var encoded = Convert.ToBase64String(padded);
        var firstGroup = (shift + 2) / 3;
        var endGroup = (shift + needle.Length) / 3;
        return encoded[(4 * firstGroup)..(4 * endGroup)];
    }
}
