using Microsoft.Data.Sqlite;
using MySqlConnector;

namespace ChatWire.Storage;

/// <summary>What an adapter's own exceptions mean, for callers that do not know which adapter runs.</summary>
public static class StoreFaults
{
    // SQLITE_CONSTRAINT and its extended code SQLITE_CONSTRAINT_FOREIGNKEY.
    private const int SqliteConstraint = 19;
    private const int SqliteConstraintForeignKey = 787;

    /// <summary>
    /// A write named a row that is gone: a foreign key found no parent (SQLite's <c>SQLITE_CONSTRAINT_FOREIGNKEY</c>,
    /// MySQL's and MariaDB's <c>ER_NO_REFERENCED_ROW</c> and <c>ER_NO_REFERENCED_ROW_2</c>). Between a request's checks
    /// and its write, another request deleted what it refers to (a team, a channel, a conversation); nothing was written.
    /// </summary>
    public static bool IsMissingReference(Exception exception) => exception switch
    {
        SqliteException { SqliteErrorCode: SqliteConstraint, SqliteExtendedErrorCode: SqliteConstraintForeignKey } => true,
        MySqlException { ErrorCode: MySqlErrorCode.NoReferencedRow or MySqlErrorCode.NoReferencedRow2 } => true,
        _ => exception.InnerException is { } inner && IsMissingReference(inner),
    };
}
