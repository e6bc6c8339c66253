namespace ChatWire.Crypto;

/// <summary>
/// The recovery key: 32 random bytes the user writes down, shown as 52 base32 characters in 13 groups of 4. The
/// recovery backup's key pair is derived from it (<see cref="RecoveryBackup"/>), so any device holding the account key
/// can refresh the backup without it, and only the recovery key opens the backup.
/// </summary>
public sealed class RecoveryKey
{
    private const int Size = 32;
    private const int GroupSize = 4;

    private RecoveryKey(byte[] bytes)
    {
        Bytes = bytes;
    }

    /// <summary>The 32 key bytes. Secret.</summary>
    public byte[] Bytes { get; }

    /// <summary>A new random recovery key.</summary>
    public static RecoveryKey Generate() => new(Primitives.Random(Size));

    /// <summary>The key for 32 bytes.</summary>
    public static RecoveryKey FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size)
        {
            throw ChatWireCryptoException.Malformed("A recovery key is 32 bytes.");
        }

        return new RecoveryKey(bytes.ToArray());
    }

    /// <summary>Reads a key as the user typed it: case, spaces and dashes ignored; null if it is not a recovery key.</summary>
    public static RecoveryKey? TryParse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var compact = new string(text.Where(c => c is not (' ' or '-' or '\t' or '\r' or '\n')).ToArray());
        return Base32.TryDecode(compact, Size, out var bytes) ? new RecoveryKey(bytes) : null;
    }

    /// <summary>The key as shown to the user: "ABCD-EFGH-…", 13 groups of 4 characters.</summary>
    public string Format()
    {
        var text = Base32.Encode(Bytes);
        return string.Join('-', Enumerable.Range(0, (text.Length + GroupSize - 1) / GroupSize)
            .Select(group => text.Substring(group * GroupSize, Math.Min(GroupSize, text.Length - (group * GroupSize)))));
    }

    /// <summary>Never prints the key; use <see cref="Format"/> deliberately.</summary>
    public override string ToString() => "RecoveryKey(…)";
}
