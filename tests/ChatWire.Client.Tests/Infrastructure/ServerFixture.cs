using ChatWire.Testing;

namespace ChatWire.Client.Tests.Infrastructure;

// One real gateway shared by the tests of a class (each test signs up its own users, so they do not meet).
// Tests that need their own configuration or a restart start a TestServer of their own.
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
