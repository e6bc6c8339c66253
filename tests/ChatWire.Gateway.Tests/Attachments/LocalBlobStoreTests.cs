using ChatWire.Storage.Attachments;
using ChatWire.Storage.Blobs;
using ChatWire.Storage.Tests.Contracts;
using ChatWire.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace ChatWire.Gateway.Tests.Attachments;

/// <summary>
/// The blob contract on the local store, through the gateway in process that serves its URLs (/v1/blobs). The
/// gateway takes an upload only for a pending attachment, so each key is registered as one first.
/// </summary>
public sealed class LocalBlobStoreTests : BlobStoreContract
{
    private TestServer? _server;

    protected override Uri? BaseAddress => _server!.ApiBaseAddress;

    protected override async Task<IBlobStore> CreateStoreAsync()
    {
        _server = await TestServer.StartAsync();
        return _server.Server.App.Services.GetRequiredService<IBlobStore>();
    }

    protected override async Task DisposeStoreAsync(IBlobStore store) => await _server!.DisposeAsync();

    protected override async Task<string> NewKeyAsync()
    {
        var id = Guid.CreateVersion7();
        var attachments = _server!.Server.App.Services.GetRequiredService<IAttachmentStore>();
        await attachments.CreateAttachmentAsync(new AttachmentRecord(id, Guid.NewGuid(), Guid.NewGuid(), 1, new byte[32], AttachmentState.Pending, DateTimeOffset.UtcNow), 0);
        return id.ToString("D");
    }

    [Fact]
    public void Store_Default_IsTheLocalStoreInTheDataDirectory()
    {
        var local = Assert.IsType<LocalBlobStore>(Store);

        Assert.Equal(Path.Combine(_server!.DataDirectory, "blobs"), local.Root);
    }
}
