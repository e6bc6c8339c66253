using System.Globalization;
using System.Security.Cryptography;
using ChatWire.Gateway.Hosting;
using Microsoft.Extensions.Options;
using NSec.Cryptography;

namespace ChatWire.Gateway.Accounts;

/// <summary>
/// Argon2id password hashes in PHC string form (<c>$argon2id$v=19$m=…,t=…,p=1$salt$hash</c>). At most
/// MaxConcurrentHashes run at once (each holds Argon2MemoryKib of memory), shared fairly between client
/// addresses (<see cref="HashSlots"/>); beyond the queue's bounds callers get SERVER_BUSY instead of piling
/// up memory and latency.
/// </summary>
internal sealed class PasswordHasher
{
    private const int SaltLength = 16;
    private const int HashLength = 32;

    private readonly AuthOptions _options;
    private readonly HashSlots _slots;

    public PasswordHasher(IOptions<AuthOptions> options)
    {
        _options = options.Value;
        var concurrency = _options.MaxConcurrentHashes > 0 ? _options.MaxConcurrentHashes : Environment.ProcessorCount;
        _slots = new HashSlots(concurrency, _options.MaxQueuedHashes, _options.MaxHashesPerIp);
    }

    /// <summary>A new hash of <paramref name="password"/>, computed in a slot of <paramref name="client"/>'s (its address key).</summary>
    public async Task<string> HashAsync(string password, string client, CancellationToken cancellationToken)
    {
        var salt = RandomNumberGenerator.GetBytes(SaltLength);
        var memory = _options.Argon2MemoryKib;
        var passes = _options.Argon2Passes;
        var hash = await RunBoundedAsync(() => Derive(password, salt, memory, passes), client, cancellationToken);
        return string.Create(CultureInfo.InvariantCulture,
            $"$argon2id$v=19$m={memory},t={passes},p=1${ToB64(salt)}${ToB64(hash)}");
    }

    /// <summary>Verifies in constant time; a stored hash weaker than the current settings reports NeedsRehash.</summary>
    public async Task<(bool Valid, bool NeedsRehash)> VerifyAsync(string password, string stored, string client, CancellationToken cancellationToken)
    {
        if (!TryParse(stored, out var memory, out var passes, out var salt, out var expected))
        {
            return (false, false);
        }

        var actual = await RunBoundedAsync(() => Derive(password, salt, memory, passes), client, cancellationToken);
        var valid = CryptographicOperations.FixedTimeEquals(actual, expected);
        return (valid, valid && (memory < _options.Argon2MemoryKib || passes < _options.Argon2Passes));
    }

    /// <summary>Spends the same work as a real verification, so an unknown user answers as slowly as a wrong password.</summary>
    public Task BurnAsync(string password, string client, CancellationToken cancellationToken) =>
        RunBoundedAsync(() => Derive(password, new byte[SaltLength], _options.Argon2MemoryKib, _options.Argon2Passes), client, cancellationToken);

    private async Task<byte[]> RunBoundedAsync(Func<byte[]> work, string client, CancellationToken cancellationToken)
    {
        await _slots.AcquireAsync(client, cancellationToken);
        try
        {
            return await Task.Run(work, CancellationToken.None);
        }
        finally
        {
            _slots.Release(client);
        }
    }

    private static byte[] Derive(string password, byte[] salt, int memoryKib, int passes)
    {
        var parameters = new Argon2Parameters
        {
            DegreeOfParallelism = 1,
            MemorySize = memoryKib,
            NumberOfPasses = passes,
        };
        return PasswordBasedKeyDerivationAlgorithm.Argon2id(parameters).DeriveBytes(password, salt, HashLength);
    }

    private static bool TryParse(string stored, out int memory, out int passes, out byte[] salt, out byte[] hash)
    {
        memory = passes = 0;
        salt = hash = [];
        var parts = stored.Split('$');
        if (parts.Length != 6 || parts[1] != "argon2id" || parts[2] != "v=19")
        {
            return false;
        }

        foreach (var setting in parts[3].Split(','))
        {
            var pair = setting.Split('=');
            if (pair.Length != 2 || !int.TryParse(pair[1], NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            {
                return false;
            }

            switch (pair[0])
            {
                case "m": memory = value; break;
                case "t": passes = value; break;
                case "p" when value == 1: break;
                default: return false;
            }
        }

        try
        {
            salt = Convert.FromBase64String(Pad(parts[4]));
            hash = Convert.FromBase64String(Pad(parts[5]));
        }
        catch (FormatException)
        {
            return false;
        }

        return memory > 0 && passes > 0 && salt.Length == SaltLength && hash.Length == HashLength;
    }

    private static string ToB64(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=');

    private static string Pad(string b64) => b64.PadRight(b64.Length + ((4 - (b64.Length % 4)) % 4), '=');
}
