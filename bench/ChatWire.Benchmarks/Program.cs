using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;
using ChatWire.Benchmarks;

// dotnet run -c Release --project bench/ChatWire.Benchmarks -- --filter '*'   (BenchmarkDotNet suites)
// dotnet run -c Release --project bench/ChatWire.Benchmarks -- --check-allocations   (budget check, exit 1 on failure)
// dotnet run -c Release --project bench/ChatWire.Benchmarks -- --idle-memory 2000 4000   (retained bytes per idle session)
if (args.Length > 0 && args[0] == "--idle-memory")
{
    int[] counts = args.Length > 1 ? [.. args.Skip(1).Select(int.Parse)] : [2_000, 4_000];
    return await IdleSessionMemory.RunAsync(counts);
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
