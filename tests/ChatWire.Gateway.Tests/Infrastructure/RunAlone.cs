namespace ChatWire.Gateway.Tests.Infrastructure;

/// <summary>
/// Tests that measure a child gateway under load (floods): they run with no other test of this assembly
/// at the same time, so the bounds they check are about the gateway, not about a busy test runner.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RunAlone
{
    public const string Name = "Alone";
}
