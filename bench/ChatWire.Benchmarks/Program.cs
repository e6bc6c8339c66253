using System.Globalization;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;
using ChatWire.Benchmarks;

// dotnet run -c Release --project bench/ChatWire.Benchmarks -- --filter '*'   (BenchmarkDotNet suites)
// dotnet run -c Release --project bench/ChatWire.Benchmarks -- --check-allocations   (budget check, exit 1 on failure)
// dotnet run -c Release --project bench/ChatWire.Benchmarks -- --allocation-profile 50000   (a SEND's allocations by type)
// dotnet run -c Release --project bench/ChatWire.Benchmarks -- --idle-memory 2000 4000   (retained bytes per idle session)
// dotnet run -c Release --project bench/ChatWire.Benchmarks -- --bus-memory HOST:PORT [bus|presence|queue-loop|queue|handler] 10000 20000
//   (retained bytes per subscribed topic of the Redis bus; --handler-order HOST:PORT [channels] [messages] and
//   --bus-throughput HOST:PORT [topics] [messages]: see BusSubscriptionMemory)
if (args.Length > 0 && args[0] == "--idle-memory")
{
    int[] counts = args.Length > 1 ? [.. args.Skip(1).Select(int.Parse)] : [2_000, 4_000];
    return await IdleSessionMemory.RunAsync(counts);
}

if (args.Length > 1 && args[0] == "--bus-memory")
{
    var mode = args.Length > 2 && !char.IsDigit(args[2][0]) ? args[2] : "bus";
    int[] counts = [.. args.Skip(mode == args.ElementAtOrDefault(2) ? 3 : 2).Select(int.Parse)];
    return await BusSubscriptionMemory.RunAsync(args[1], mode, counts.Length > 0 ? counts : [10_000, 20_000]);
}

if (args.Length > 1 && args[0] == "--bus-throughput")
{
    return await BusSubscriptionMemory.RunThroughputAsync(
        args[1], args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 100, args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 200_000);
}

if (args.Length > 1 && args[0] == "--handler-order")
{
    return await BusSubscriptionMemory.RunHandlerOrderAsync(
        args[1], args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 16, args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 200_000);
}

if (args.Length > 0 && args[0] == "--allocation-profile")
{
    return await SendAllocationProfile.RunAsync(args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 50_000);
}

if (args.Contains("--check-allocations"))
{
    return AllocationCheck.Run(Path.Combine(AppContext.BaseDirectory, AllocationCheck.BudgetsFileName));
}

// Results go next to this project, not into whatever directory the command was started from.
var config = DefaultConfig.Instance.WithArtifactsPath(Path.Combine(ProjectDirectory(), "BenchmarkDotNet.Artifacts"));
var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);
return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;

static string ProjectDirectory()
{
    for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
    {
        if (File.Exists(Path.Combine(directory.FullName, "ChatWire.Benchmarks.csproj")))
        {
            return directory.FullName;
        }
    }

    return Directory.GetCurrentDirectory();
}
