using ChatWire.Protocol.Frames;

namespace ChatWire.Gateway.Tests.HistoryCheck;

// The checker itself, on small made-up histories: it passes a correct one, and finds each kind of anomaly a
// faulty store or gateway could leave, so that the fault run (HistoryTests) cannot pass by checking nothing.
public sealed class HistoryCheckerTests
{
    private static readonly Guid Channel = Guid.CreateVersion7();
    private static readonly Guid A = Guid.CreateVersion7();
    private static readonly Guid B = Guid.CreateVersion7();
    private static readonly Guid C = Guid.CreateVersion7();
    private static readonly Guid D = Guid.CreateVersion7();
    private static readonly Guid JoinedId = Guid.CreateVersion7();

    // Client 1 sends A (acknowledged, seq 2) then B (no answer: the node died; stored as seq 3); client 2 sends C
    // (acknowledged, seq 4) and D (refused). Seq 1 is the channel's member_joined. One connection saw 1 to 4.
    private static List<SendAttempt> Attempts() =>
    [
        new(1, Channel, A, InvokedAt: 10, CompletedAt: 20, AttemptOutcome.Ok, Seq: 2),
        new(1, Channel, B, InvokedAt: 30, CompletedAt: 90, AttemptOutcome.Info, Error: "timeout"),
        new(2, Channel, C, InvokedAt: 40, CompletedAt: 50, AttemptOutcome.Ok, Seq: 4),
        new(2, Channel, D, InvokedAt: 60, CompletedAt: 70, AttemptOutcome.Fail, Error: "FORBIDDEN"),
    ];

    private static List<ConversationEvent> Stored() => [Joined(1), Message(A, 2), Message(B, 3), Message(C, 4)];

    private static List<Delivery> Deliveries() => [.. Stored().Select(e => new Delivery("bob#1", Channel, e.Seq, e.EventId))];

    [Fact]
    public void ACorrectHistory_HasNoAnomaly()
    {
        var verdict = Check(Attempts(), Stored(), Deliveries());

        Assert.Empty(verdict.Anomalies);
        Assert.Equal((4, 2, 1, 1, 1, 4, 1, 4, 0), (verdict.Messages, verdict.Acknowledged, verdict.Failed, verdict.Indeterminate, verdict.IndeterminateStored, verdict.Attempts, verdict.AttemptsUnanswered, verdict.Deliveries, verdict.DeliveredAgain));
    }

    [Fact]
    public void AnAcknowledgedMessageMissing_IsLost()
    {
        var stored = Stored();
        stored.RemoveAt(3);

        Assert.Contains(Check(Attempts(), stored, []).Anomalies, a => a.Contains($"{C} was acknowledged with seq 4 but is not stored", StringComparison.Ordinal));
    }

    [Fact]
    public void AnAcknowledgementWithAnotherSeq_IsFound()
    {
        var attempts = Attempts();
        attempts[2] = attempts[2] with { Seq = 5 };

        Assert.Contains(Check(attempts, Stored(), []).Anomalies, a => a.Contains("acknowledged with seq 5 but is stored with seq 4", StringComparison.Ordinal));
    }

    [Fact]
    public void ARefusedMessageStored_IsFound()
    {
        var stored = Stored();
        stored.Add(Message(D, 5));

        Assert.Contains(Check(Attempts(), stored, []).Anomalies, a => a.Contains($"{D} was refused (FORBIDDEN) but is stored", StringComparison.Ordinal));

        // Refused on a resend after an attempt without an answer, it may be stored: some refusals do not look it up.
        var attempts = Attempts();
        attempts.Add(attempts[3] with { InvokedAt = 55, CompletedAt = 58, Outcome = AttemptOutcome.Info, Error = "no answer" });
        var verdict = Check(attempts, stored, []);
        Assert.Empty(verdict.Anomalies);
        Assert.Equal((0, 2), (verdict.Failed, verdict.Indeterminate));
    }

    [Fact]
    public void AGapADuplicateAndAPhantom_AreFound()
    {
        var stored = Stored();
        stored[2] = Message(B, 5);
        var gap = Check(Attempts(), stored, []);
        var duplicate = Check(Attempts(), [.. Stored(), Message(A, 5)], []);
        var phantom = Check(Attempts(), [.. Stored(), Message(Guid.CreateVersion7(), 5)], []);

        Assert.Contains(gap.Anomalies, a => a.Contains("position 3 has seq 5", StringComparison.Ordinal));
        Assert.Contains(duplicate.Anomalies, a => a.Contains($"{A} is stored twice", StringComparison.Ordinal));
        Assert.Contains(phantom.Anomalies, a => a.Contains("was never sent", StringComparison.Ordinal));
    }

    [Fact]
    public void AMessageWrittenAfterAnotherWasAcknowledged_WithTheLowerSeq_BreaksTheOrder()
    {
        // C was first written at 40, after A's acknowledgement at 20: stored before A, the order is broken.
        var stored = new List<ConversationEvent> { Joined(1), Message(C, 2), Message(B, 3), Message(A, 4) };
        var attempts = Attempts();
        attempts[0] = attempts[0] with { Seq = 4 };
        attempts[2] = attempts[2] with { Seq = 2 };

        Assert.Contains(Check(attempts, stored, []).Anomalies, a => a.Contains($"{C} (seq 2) was first written after {A} (seq 4)", StringComparison.Ordinal));

        // Concurrent SENDs may be stored in either order: B and C written at 12 and 15, before A's acknowledgement.
        attempts[1] = attempts[1] with { InvokedAt = 12 };
        attempts[2] = attempts[2] with { InvokedAt = 15 };
        Assert.Empty(Check(attempts, stored, []).Anomalies);
    }

    [Fact]
    public void ADeliveryTheStoreDoesNotHold_OrTwice_IsFound()
    {
        var phantom = Deliveries();
        phantom[3] = phantom[3] with { EventId = D };
        var twice = Deliveries();
        twice.Add(twice[1]);

        Assert.Contains(Check(Attempts(), Stored(), phantom).Anomalies, a => a.Contains("which the store does not hold", StringComparison.Ordinal));
        Assert.Contains(Check(Attempts(), Stored(), twice).Anomalies, a => a.Contains("received seq 2 of", StringComparison.Ordinal) && a.Contains("twice", StringComparison.Ordinal));

        // Another connection starts again from wherever it joined.
        Assert.Empty(Check(Attempts(), Stored(), [.. Deliveries(), new Delivery("bob#2", Channel, 3, B)]).Anomalies);
    }

    [Fact]
    public void OutOfOrderAndRepeatedDeliveries_BreakOnlyTheOneNodePromise()
    {
        var reordered = Deliveries();
        (reordered[1], reordered[2]) = (reordered[2], reordered[1]);
        reordered.Add(reordered[0]);

        // One node pushes a conversation's events to each connection once, in seq order; several nodes may not (the
        // client's watermark puts them back in order and drops the second copy): counted, not failed.
        Assert.Contains(HistoryChecker.Check(Attempts(), Stores(Stored()), reordered, oneNode: true).Anomalies, a => a.Contains("received seq 2 of", StringComparison.Ordinal) && a.Contains("after seq 3", StringComparison.Ordinal));
        var several = HistoryChecker.Check(Attempts(), Stores(Stored()), reordered, oneNode: false);
        Assert.Empty(several.Anomalies);
        Assert.Equal(1, several.DeliveredAgain);

        // A delivery the store does not hold is an anomaly either way.
        reordered[3] = reordered[3] with { EventId = D };
        Assert.Contains(HistoryChecker.Check(Attempts(), Stores(Stored()), reordered, oneNode: false).Anomalies, a => a.Contains("which the store does not hold", StringComparison.Ordinal));
    }

    [Fact]
    public void ADeviceFollowingTheRules_UsesEachEventOnceInOrder_WhateverItIsPushed()
    {
        // Pushed 3, 1, 3, 4, 2: 3 waits past the gap, 1 is next, the second 3 is dropped, 4 waits, 2 lets 3 and 4 go.
        var device = new DeviceTimeline("bob", [Channel]);
        var stored = Stored();
        foreach (var i in (int[])[2, 0, 2, 3, 1])
        {
            device.Offer(stored[i], fromHistory: false);
        }

        Assert.Equal([1UL, 2, 3, 4], device.Used.Select(e => e.Seq));
        Assert.True(device.HasGap(Channel) is false && device.Watermark(Channel) == 4);
        Assert.Empty(CheckFollower(device).Anomalies);
        Assert.Equal(1, CheckFollower(device).Followers);

        // With 2 never given, 3 and 4 stay held: the device has a gap to fill, and the checker finds what it lacks.
        var missing = new DeviceTimeline("carol", [Channel]);
        foreach (var i in (int[])[0, 2, 3])
        {
            missing.Offer(stored[i], fromHistory: false);
        }

        Assert.True(missing.HasGap(Channel));
        Assert.Contains(CheckFollower(missing).Anomalies, a => a.Contains("carol holds 1 of", StringComparison.Ordinal) && a.Contains("never got seq 2", StringComparison.Ordinal));

        // Given from HISTORY, the gap closes and the held events follow.
        missing.Offer(stored[1], fromHistory: true);
        Assert.Equal([1UL, 2, 3, 4], missing.Used.Select(e => e.Seq));
        Assert.Equal(1, missing.UsedFromHistory);
        Assert.Empty(CheckFollower(missing).Anomalies);
    }

    [Fact]
    public void ADeviceGivenAnEventTheStoreDoesNotHold_IsFound()
    {
        var device = new DeviceTimeline("bob", [Channel]);
        var stored = Stored();
        device.Offer(stored[0], fromHistory: false);
        device.Offer(Message(D, 2), fromHistory: false);

        Assert.Contains(CheckFollower(device).Anomalies, a => a.Contains($"bob used {D} as seq 2", StringComparison.Ordinal) && a.Contains($"{A} at seq 2", StringComparison.Ordinal));
    }

    private static HistoryVerdict CheckFollower(DeviceTimeline device) =>
        HistoryChecker.Check(Attempts(), Stores(Stored()), [], oneNode: true, [device]);

    private static HistoryVerdict Check(List<SendAttempt> attempts, List<ConversationEvent> stored, List<Delivery> deliveries) =>
        HistoryChecker.Check(attempts, Stores(stored), deliveries, oneNode: true);

    private static Dictionary<Guid, IReadOnlyList<ConversationEvent>> Stores(List<ConversationEvent> stored) => new() { [Channel] = stored };

    private static ConversationEvent Message(Guid id, ulong seq) => new(Channel, id, seq, Guid.Empty, Guid.Empty, 0, "text/plain", new byte[] { 1 });

    private static ConversationEvent Joined(ulong seq) => new(Channel, JoinedId, seq, Guid.Empty, Guid.Empty, 0, "", default, EventKind.MemberJoined);
}
