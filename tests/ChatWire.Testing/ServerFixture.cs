using Xunit;

namespace ChatWire.Testing;

/// <summary>
/// One real gateway shared by the tests of a class that need only default settings (each test signs up its
/// own users, so they do not meet). Tests that need their own configuration or a restart start a
/// <see cref="TestServer"/> of their own.
/// </summary>
public sealed class ServerFixture : IAsyncLifetime
{
    private TestServer? _server;

    public TestServer Server => _server ?? throw new InvalidOperationException("The fixture has not started.");

    public async Task InitializeAsync() => _server = await TestServer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
