using ChatWire.Client;

namespace ChatWire.Cli;

// The Noise pins of one profile, in its file: read afresh and written at once, so a pin taken on first use (or moved
// by a rotation) survives the command, and a concurrent command's pin is not lost.
internal sealed class ProfileNoisePins(ProfileStore profiles, string profileName) : INoiseKeyPins
{
    private readonly Lock _lock = new();

    public byte[]? Find(string host, int port)
    {
        var pins = profiles.Load(profileName)?.NoisePins;
        if (pins is null || !pins.TryGetValue(NoiseKeys.PinName(host, port), out var hex))
        {
            return null;
        }

        try
        {
            return NoiseKeys.Parse(hex);
        }
        catch (ArgumentException ex)
        {
            throw new InvalidDataException($"The profile \"{profileName}\" pins {NoiseKeys.PinName(host, port)} to \"{hex}\", which is not a Noise key.", ex);
        }
    }

    public void Save(string host, int port, ReadOnlySpan<byte> key)
    {
        lock (_lock)
        {
            var profile = profiles.Load(profileName)
                ?? throw new InvalidOperationException($"The profile \"{profileName}\" is gone; the server's Noise key cannot be pinned.");
            var pins = new SortedDictionary<string, string>(StringComparer.Ordinal);
            foreach (var (name, value) in profile.NoisePins ?? new Dictionary<string, string>())
            {
                pins[name] = value;
            }

            pins[NoiseKeys.PinName(host, port)] = NoiseKeys.ToHex(key);
            profiles.Save(profileName, profile with { NoisePins = pins });
        }
    }
}
