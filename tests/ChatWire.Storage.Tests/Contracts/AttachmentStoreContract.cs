using System.Security.Cryptography;
using ChatWire.Storage.Attachments;

namespace ChatWire.Storage.Tests.Contracts;

/// <summary>Every IAttachmentStore adapter's behaviour, written once; an adapter's class supplies a fresh store.</summary>
public abstract class AttachmentStoreContract : IAsyncLifetime
{
    protected static readonly DateTimeOffset T0 = DateTimeOffset.FromUnixTimeMilliseconds(1_795_000_000_123);

    private IAttachmentStore? _store;

    protected IAttachmentStore Store => _store ?? throw new InvalidOperationException("The store is not created yet.");

    protected abstract Task<IAttachmentStore> CreateStoreAsync();

    protected abstract Task DisposeStoreAsync(IAttachmentStore store);

    public async Task InitializeAsync() => _store = await CreateStoreAsync();

    public async Task DisposeAsync()
    {
        if (_store is not null)
        {
            await DisposeStoreAsync(_store);
        }
    }

    [Fact]
    public async Task CreateAttachmentAsync_New_ReadableAsPending()
    {
        var attachment = NewAttachment(Guid.NewGuid(), 1234);

        Assert.True(await Store.CreateAttachmentAsync(attachment, quotaBytes: 0));

        Assert.Equal(attachment, await Store.GetAttachmentAsync(attachment.Id));
        Assert.Null(await Store.GetAttachmentAsync(Guid.NewGuid()));
    }

    [Fact]
    public async Task CreateAttachmentAsync_OverQuota_RefusedAndNothingStored()
    {
        var owner = Guid.NewGuid();
        Assert.True(await Store.CreateAttachmentAsync(NewAttachment(owner, 600), quotaBytes: 1000));
        var second = NewAttachment(owner, 401);

        Assert.False(await Store.CreateAttachmentAsync(second, quotaBytes: 1000));

        Assert.Null(await Store.GetAttachmentAsync(second.Id));
        Assert.Equal(600, await Store.GetAttachmentBytesAsync(owner));
    }

    [Fact]
    public async Task CreateAttachmentAsync_ExactlyAtQuotaAndOtherOwners_Accepted()
    {
        var owner = Guid.NewGuid();
        Assert.True(await Store.CreateAttachmentAsync(NewAttachment(Guid.NewGuid(), 900), quotaBytes: 1000));
        Assert.True(await Store.CreateAttachmentAsync(NewAttachment(owner, 600), quotaBytes: 1000));

        Assert.True(await Store.CreateAttachmentAsync(NewAttachment(owner, 400), quotaBytes: 1000));

        Assert.Equal(1000, await Store.GetAttachmentBytesAsync(owner));
    }

    [Fact]
    public async Task CreateAttachmentAsync_ConcurrentForOneOwner_NeverPassQuotaTogether()
    {
        var owner = Guid.NewGuid();

        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Store.CreateAttachmentAsync(NewAttachment(owner, 300), quotaBytes: 1000)));

        Assert.Equal(3, results.Count(r => r));
        Assert.Equal(900, await Store.GetAttachmentBytesAsync(owner));
    }

    [Fact]
    public async Task MarkAttachmentReadyAsync_Pending_ReadyOnceAndStillCounted()
    {
        var attachment = NewAttachment(Guid.NewGuid(), 10);
        await Store.CreateAttachmentAsync(attachment, 0);

        Assert.True(await Store.MarkAttachmentReadyAsync(attachment.Id));
        Assert.False(await Store.MarkAttachmentReadyAsync(attachment.Id));
        Assert.False(await Store.MarkAttachmentReadyAsync(Guid.NewGuid()));

        Assert.Equal(attachment with { State = AttachmentState.Ready }, await Store.GetAttachmentAsync(attachment.Id));
        Assert.Equal(10, await Store.GetAttachmentBytesAsync(attachment.OwnerUserId));
    }

    [Fact]
    public async Task DeleteAttachmentAsync_Existing_GoneAndQuotaFreed()
    {
        var attachment = NewAttachment(Guid.NewGuid(), 10);
        await Store.CreateAttachmentAsync(attachment, 0);

        Assert.True(await Store.DeleteAttachmentAsync(attachment.Id));
        Assert.False(await Store.DeleteAttachmentAsync(attachment.Id));

        Assert.Null(await Store.GetAttachmentAsync(attachment.Id));
        Assert.Equal(0, await Store.GetAttachmentBytesAsync(attachment.OwnerUserId));
    }

    [Fact]
    public async Task ListPendingAttachmentsAsync_Mixed_OnlyOldPendingOldestFirstUpToLimit()
    {
        var owner = Guid.NewGuid();
        var oldest = NewAttachment(owner, 1, T0);
        var older = NewAttachment(owner, 1, T0.AddMinutes(1));
        var oldButReady = NewAttachment(owner, 1, T0.AddMinutes(2));
        var recent = NewAttachment(owner, 1, T0.AddHours(2));
        foreach (var a in new[] { recent, oldButReady, older, oldest })
        {
            await Store.CreateAttachmentAsync(a, 0);
        }

        await Store.MarkAttachmentReadyAsync(oldButReady.Id);

        Assert.Equal([oldest, older], await Store.ListPendingAttachmentsAsync(T0.AddHours(1), 10));
        Assert.Equal([oldest], await Store.ListPendingAttachmentsAsync(T0.AddHours(1), 1));
    }

    // Regression: only bytes were counted, so one user could declare a billion 1-byte uploads (a row each).
    [Fact]
    public async Task CreateAttachmentAsync_AtPendingLimit_RefusedUntilOneIsReady()
    {
        var owner = Guid.NewGuid();
        var first = NewAttachment(owner, 1);
        Assert.True(await Store.CreateAttachmentAsync(first, quotaBytes: 0, maxPending: 3));
        Assert.True(await Store.CreateAttachmentAsync(NewAttachment(owner, 1), quotaBytes: 0, maxPending: 3));
        Assert.True(await Store.CreateAttachmentAsync(NewAttachment(owner, 1), quotaBytes: 1000, maxPending: 3));
        var fourth = NewAttachment(owner, 1);

        var refused = await Store.CreateAttachmentAsync(fourth, quotaBytes: 1000, maxPending: 3);
        var othersStillFree = await Store.CreateAttachmentAsync(NewAttachment(Guid.NewGuid(), 1), quotaBytes: 1000, maxPending: 3);
        await Store.MarkAttachmentReadyAsync(first.Id);
        var afterReady = await Store.CreateAttachmentAsync(fourth, quotaBytes: 1000, maxPending: 3);

        Assert.False(refused);
        Assert.True(othersStillFree);
        Assert.True(afterReady);
        Assert.Equal(4, await Store.GetAttachmentBytesAsync(owner));
    }

    [Fact]
    public async Task ListOrphanedAttachmentsAsync_OrphanedBeforeTheCutoff_OldestFirstUpToTheLimit()
    {
        var owner = Guid.NewGuid();
        var oldest = NewAttachment(owner, 1, T0);
        var middle = NewAttachment(owner, 1, T0.AddMinutes(1));
        var newest = NewAttachment(owner, 1, T0.AddMinutes(2));
        var live = NewAttachment(owner, 1, T0);
        foreach (var attachment in new[] { newest, oldest, middle, live })
        {
            Assert.True(await Store.CreateAttachmentAsync(attachment, quotaBytes: 0));
        }

        Assert.True(await Store.MarkAttachmentReadyAsync(middle.Id));
        foreach (var attachment in new[] { newest, oldest, middle })
        {
            Assert.True(await Store.MarkAttachmentOrphanedAsync(attachment.Id));
        }

        Assert.False(await Store.MarkAttachmentOrphanedAsync(Guid.NewGuid()));
        Assert.Equal([oldest.Id, middle.Id], (await Store.ListOrphanedAttachmentsAsync(T0.AddMinutes(3), 2)).Select(a => a.Id));
        Assert.Equal([oldest.Id], (await Store.ListOrphanedAttachmentsAsync(T0.AddMinutes(1), 10)).Select(a => a.Id));
        Assert.Equal(AttachmentState.Orphaned, (await Store.GetAttachmentAsync(middle.Id))!.State);
        Assert.False(await Store.MarkAttachmentReadyAsync(oldest.Id));
        Assert.Equal(4, await Store.GetAttachmentBytesAsync(owner));
    }

    private static AttachmentRecord NewAttachment(Guid owner, long size, DateTimeOffset? createdAt = null) =>
        new(Guid.CreateVersion7(), Guid.NewGuid(), owner, size, RandomNumberGenerator.GetBytes(32), AttachmentState.Pending, createdAt ?? T0);
}
