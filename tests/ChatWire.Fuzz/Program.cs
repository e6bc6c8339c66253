using ChatWire.Fuzz;
using SharpFuzz;

// ChatWire.Fuzz TARGET                      one input per run from afl-fuzz (scripts/fuzz.sh instruments and starts it)
// ChatWire.Fuzz TARGET --seeds DIR [JSON…]  writes the target's starting inputs into DIR (envelope and attachment
//                                           take theirs from the end-to-end test-vector files given)
// ChatWire.Fuzz TARGET --replay PATH…       runs each file (or each file in each directory) once, prints every
//                                           unexpected exception with its stack, exits 1 if there was one
if (args.Length == 0 || !FuzzTargets.All.TryGetValue(args[0], out var target))
{
    Console.Error.WriteLine($"usage: ChatWire.Fuzz {{{string.Join('|', FuzzTargets.All.Keys)}}} [--seeds DIR [VECTOR.json…] | --replay PATH…]");
    return 2;
}

if (args.Length >= 3 && args[1] == "--seeds")
{
    Directory.CreateDirectory(args[2]);
    var count = 0;
    foreach (var seed in FuzzTargets.Seeds(args[0], args[3..]))
    {
        File.WriteAllBytes(Path.Combine(args[2], $"seed-{count++:D3}"), seed);
    }

    Console.WriteLine($"{args[0]}: {count} seeds in {args[2]}");
    return 0;
}

if (args.Length >= 2 && args[1] == "--replay")
{
    var files = args[2..].SelectMany(p => Directory.Exists(p) ? Directory.GetFiles(p).Order(StringComparer.Ordinal) : (IEnumerable<string>)[p]).ToList();
    var failed = 0;
    foreach (var file in files)
    {
        try
        {
            target(File.ReadAllBytes(file));
        }
#pragma warning disable CA1031 // Every exception that escapes a target is what this mode reports.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            failed++;
            Console.WriteLine($"{file}: {ex}");
        }
    }

    Console.WriteLine($"{args[0]}: {files.Count} inputs replayed, {failed} with an unexpected exception");
    return failed == 0 ? 0 : 1;
}

Fuzzer.OutOfProcess.Run(stream =>
{
    using var copy = new MemoryStream();
    stream.CopyTo(copy);
    target(copy.ToArray());
});
return 0;
