namespace ChatWire.Storage;

/// <summary>
/// A write of an account's own data (its keys, device list or recovery backup) found the account deleted: it was in
/// flight while an operator deleted the account, and arrived after the deletion had cleared that data. Nothing was
/// written; the request's session ended with the account.
/// </summary>
public sealed class AccountDeletedException(Guid userId)
    : InvalidOperationException($"The account {userId} was deleted; nothing of it is written any more.")
{
    public Guid UserId { get; } = userId;
}
