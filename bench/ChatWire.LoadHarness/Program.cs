using System.Text.Json;
using ChatWire.LoadHarness;

// A client child of the cluster-idle scenario: it talks to its parent over stdin and stdout, writes no result.
if (args.Length > 0 && args[0] == ClusterIdleClient.Scenario)
{
    return await ClusterIdleClient.RunAsync(args);
}

HarnessOptions options;
try
{
    options = HarnessOptions.Parse(args);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine(ex.Message);
    Console.Error.WriteLine(HarnessOptions.Usage);
    return 2;
}

object result;
try
{
    result = await RunAsync(options);
}
catch (TimeoutException ex)
{
    // A phase outlasted --timeout-seconds (Deadline); the scenario's gateway and services are already stopped.
    Console.Error.WriteLine(ex.Message);
    return 1;
}

var report = new
{
    machine = new { Environment.ProcessorCount, os = System.Runtime.InteropServices.RuntimeInformation.OSDescription, dotnet = Environment.Version.ToString() },
    date = DateTimeOffset.UtcNow,
    command = "ChatWire.LoadHarness " + string.Join(' ', args),
    result,
};
var json = JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower });
var output = string.IsNullOrEmpty(options.Output) ? $"loadharness-{options.Scenario}.json" : options.Output;
await File.WriteAllTextAsync(output, json);
Console.WriteLine($"result written to {Path.GetFullPath(output)}");
return 0;

static async Task<object> RunAsync(HarnessOptions options) => options.Scenario switch
{
    "idle" => await IdleScenario.RunAsync(options),
    "fanout" => await FanoutScenario.RunAsync(options),
    "dm" => await DmScenario.RunAsync(options),
    "sdk-send" => await SdkSendScenario.RunAsync(options),
    "sync" => await SyncScenario.RunAsync(options),
    "cluster" => await ClusterScenario.RunAsync(options),
    "cluster-idle" => await ClusterIdleScenario.RunAsync(options),
    "cluster-churn" => await ClusterChurnScenario.RunAsync(options),
    "seed" => await SeedScenario.RunAsync(options),
    "connect-storm" => await ConnectStormScenario.RunAsync(options),
    "resume-storm" => await ResumeStormScenario.RunAsync(options),
    "churn" => await ChurnScenario.RunAsync(options),
    "soak" => await SoakScenario.RunAsync(options),
    "ceiling" => await InsertCeiling.RunAsync(options.CeilingRows, options.CeilingBatch, options.ContentBytes, options.Conversations),
    _ => await SendScenario.RunAsync(options),
};
