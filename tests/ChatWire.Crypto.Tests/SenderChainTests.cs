namespace ChatWire.Crypto.Tests;

public sealed class SenderChainTests
{
    private static readonly Guid Conversation = Guid.CreateVersion7();

    [Fact]
    public void Advance_DerivesKeyNonceAndNextChainKeyWithLabels()
    {
        var chain = OutboundChain.Start(Conversation, 1, Guid.CreateVersion7(), Guid.CreateVersion7(), 0);
        var ck0 = chain.ChainKey.ToArray();
        var okm = new byte[44];

        var used = chain.Advance(okm);

        var expectedOkm = new byte[44];
        var expectedNext = new byte[32];
        Primitives.HkdfExpand(ck0, "CW-sk-msg-v1"u8, expectedOkm);
        Primitives.HkdfExpand(ck0, "CW-sk-chain-v1"u8, expectedNext);
        Assert.Equal(0u, used);
        Assert.Equal(1u, chain.Iteration);
        Assert.Equal(expectedOkm, okm);
        Assert.Equal(expectedNext, chain.ChainKey);
    }

    [Theory]
    [InlineData(1UL, 0, 0L, false)]
    [InlineData(2UL, 0, 0L, true)]
    [InlineData(1UL, 1000, 0L, true)]
    [InlineData(1UL, 999, 0L, false)]
    [InlineData(1UL, 0, 604_800_000L, true)]
    [InlineData(1UL, 0, 604_799_999L, false)]
    [InlineData(1UL, 0, -1L, true)]
    public void NeedsRotation_EpochCountOrAge_AsPolicy(ulong epoch, int sent, long elapsedMs, bool expected)
    {
        var chain = OutboundChain.Start(Conversation, 1, Guid.CreateVersion7(), Guid.CreateVersion7(), 1_000_000);
        chain.Iteration = (uint)sent;

        Assert.Equal(expected, chain.NeedsRotation(epoch, 1_000_000 + elapsedMs));
    }

    [Fact]
    public void NeedsRotation_DoNotResume_True()
    {
        var chain = OutboundChain.Start(Conversation, 1, Guid.CreateVersion7(), Guid.CreateVersion7(), 0);
        chain.DoNotResume = true;

        Assert.True(chain.NeedsRotation(1, 0));
    }

    [Fact]
    public void Prepare_OutOfOrder_UsesSkippedKeysThenReportsReplay()
    {
        var (outbound, inbound) = Pair();
        var keys = Enumerable.Range(0, 4).Select(_ => Next(outbound)).ToList();

        var third = inbound.Prepare(3, out _)!;
        Assert.Equal(keys[3], third.MessageKeyMaterial);
        inbound.Commit(third, Guid.CreateVersion7());
        var first = inbound.Prepare(1, out _)!;
        Assert.Equal(keys[1], first.MessageKeyMaterial);
        inbound.Commit(first, Guid.CreateVersion7());

        Assert.Null(inbound.Prepare(3, out var replay));
        Assert.Equal(CryptoError.Replay, replay);
        Assert.Null(inbound.Prepare(1, out replay));
        Assert.Equal(CryptoError.Replay, replay);
        Assert.Equal([0u, 2u], inbound.Skipped.Keys);
        Assert.Equal(4u, inbound.NextIteration);
    }

    [Fact]
    public void Prepare_BeyondMaxSkip_OutOfWindow()
    {
        var (_, inbound) = Pair();

        Assert.NotNull(inbound.Prepare(InboundChain.MaxSkip, out _));
        Assert.Null(inbound.Prepare(InboundChain.MaxSkip + 1, out var error));
        Assert.Equal(CryptoError.OutOfWindow, error);
    }

    [Fact]
    public void Prepare_WithoutCommit_ChangesNothing()
    {
        var (_, inbound) = Pair();

        inbound.Prepare(10, out _);

        Assert.Equal(0u, inbound.NextIteration);
        Assert.Empty(inbound.Skipped);
    }

    [Fact]
    public void Commit_ManySkips_KeepsAtMostMaxSkipKeys()
    {
        var (_, inbound) = Pair();

        inbound.Commit(inbound.Prepare(InboundChain.MaxSkip, out _)!, Guid.CreateVersion7());
        inbound.Commit(inbound.Prepare((InboundChain.MaxSkip * 2) + 1, out _)!, Guid.CreateVersion7());

        Assert.Equal(InboundChain.MaxSkip, inbound.Skipped.Count);
        Assert.Null(inbound.Prepare(0, out var error));
        Assert.Equal(CryptoError.OutOfWindow, error);
    }

    [Fact]
    public void Backfill_EarlierSeedOfSameChain_AddsEarlierIterations()
    {
        var outbound = OutboundChain.Start(Conversation, 1, Guid.CreateVersion7(), Guid.CreateVersion7(), 0);
        var start = outbound.Seed();
        var keys = Enumerable.Range(0, 3).Select(_ => Next(outbound)).ToList();
        var late = InboundChain.FromSeed(outbound.Seed());

        Assert.True(late.Backfill(start));
        Assert.Equal(keys[1], late.Prepare(1, out _)!.MessageKeyMaterial);
        Assert.False(late.Backfill(start with { ChainKey = new byte[32] }));
    }

    internal static (OutboundChain Outbound, InboundChain Inbound) Pair()
    {
        var outbound = OutboundChain.Start(Conversation, 1, Guid.CreateVersion7(), Guid.CreateVersion7(), 0);
        return (outbound, InboundChain.FromSeed(outbound.Seed()));
    }

    private static byte[] Next(OutboundChain chain)
    {
        var okm = new byte[44];
        chain.Advance(okm);
        return okm;
    }
}
