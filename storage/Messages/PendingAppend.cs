namespace ChatWire.Storage.Messages;

/// <summary>
/// One queued append and its waiter in one object. The result is parked here until the batch commits:
/// nothing is acknowledged before it is durable.
/// </summary>
internal sealed class PendingAppend(NewEvent newEvent)
    : TaskCompletionSource<AppendResult>(TaskCreationOptions.RunContinuationsAsynchronously)
{
    public NewEvent Event { get; } = newEvent;

    public AppendResult? Result { get; set; }
}
