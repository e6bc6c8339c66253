using ChatWire.Gateway.Conversations;
using ChatWire.Gateway.Tests.Infrastructure;
using ChatWire.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace ChatWire.Gateway.Tests;

// The embedded store's reads block a thread each, so the thread pool's minimum counts them while they run, and only
// then: a floor held all the time made every burst of work start that many threads and keep them on an idle node
// (docs/performance.md, "The floor follows the reads"). The pool is the process's, so this runs alone.
[Collection(RunAlone.Name)]
public sealed class StoreReadThreadsTests
{
    [Fact]
    public async Task AnEmbeddedNode_RaisesThePoolsMinimum_OnlyWhileAStoreReadRuns()
    {
        var cores = Environment.ProcessorCount;
        ThreadPool.GetMinThreads(out var workersBefore, out var io);
        ThreadPool.SetMinThreads(cores, io);
        try
        {
            await using var server = await TestServer.StartAsync();
            var gate = server.Server.App.Services.GetRequiredService<ReadGate>();
            ThreadPool.GetMinThreads(out var started, out _);

            int oneRead, twoReads;
            using (await gate.EnterAsync(Guid.CreateVersion7()))
            {
                ThreadPool.GetMinThreads(out oneRead, out _);
                using (await gate.EnterAsync(Guid.CreateVersion7()))
                {
                    ThreadPool.GetMinThreads(out twoReads, out _);
                }
            }

            ThreadPool.GetMinThreads(out var done, out var ioDone);

            Assert.Equal(cores, started);
            Assert.Equal(1 + (StoreReadThreads.Headroom * cores), oneRead);
            Assert.Equal(2 + (StoreReadThreads.Headroom * cores), twoReads);
            Assert.Equal(cores, done);
            Assert.Equal(io, ioDone);
            Assert.Equal(0, StoreReadThreads.Blocking);
        }
        finally
        {
            ThreadPool.SetMinThreads(workersBefore, io);
        }
    }

    [Fact]
    public async Task AStoreThatDoesNotBlock_LeavesThePoolAlone()
    {
        ThreadPool.GetMinThreads(out var before, out _);
        var gate = new ReadGate(Microsoft.Extensions.Options.Options.Create(new Hosting.GatewayOptions()), new StoreReadThreads(storeBlocks: false));

        using (await gate.EnterAsync(Guid.CreateVersion7()))
        {
            ThreadPool.GetMinThreads(out var reading, out _);
            Assert.Equal(before, reading);
        }

        Assert.Equal(0, StoreReadThreads.Blocking);
    }
}
