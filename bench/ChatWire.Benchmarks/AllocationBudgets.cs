using System.Text.Json;
using System.Text.Json.Serialization;

namespace ChatWire.Benchmarks;

/// <summary>allocation-budgets.json: how many operations to measure, and the ceiling for each workload.</summary>
internal sealed record AllocationBudgets(int Iterations, int WarmupIterations, IReadOnlyList<AllocationBudget> Budgets)
{
    public static AllocationBudgets Load(string path)
    {
        using var stream = File.OpenRead(path);
        var budgets = JsonSerializer.Deserialize(stream, AllocationBudgetsJsonContext.Default.AllocationBudgets)
            ?? throw new InvalidDataException($"{path} is empty.");
        if (budgets.Iterations <= 0 || budgets.WarmupIterations < 0 || budgets.Budgets is null)
        {
            throw new InvalidDataException($"{path} needs a positive iterations, a warmupIterations ≥ 0 and a budgets list.");
        }

        return budgets;
    }
}

/// <summary>
/// One workload's ceiling in bytes allocated per operation, averaged over the measured operations.
/// <paramref name="Comment"/> says why a budget is above zero where one would expect zero.
/// </summary>
internal sealed record AllocationBudget(string Name, string Description, double MaxBytesPerOperation, string? Comment = null);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true)]
[JsonSerializable(typeof(AllocationBudgets))]
internal sealed partial class AllocationBudgetsJsonContext : JsonSerializerContext;
