namespace InfoBank.Server.Infrastructure.Db;

/// <summary>
/// The few places where our SQL differs between databases. Stores keep their SQL as constants and
/// splice in these fragments; everything else is written once in the common subset.
/// </summary>
public abstract class SqlDialect
{
    public abstract DatabaseProvider Provider { get; }

    /// <summary>
    /// Suffix after an ORDER BY that returns at most <paramref name="limitParameter"/> rows. The value
    /// must be 1 or more: SQL Server's FETCH NEXT refuses 0 (error 10744) where LIMIT 0 returns nothing.
    /// </summary>
    public abstract string Limit(string limitParameter);

    /// <summary>
    /// An INSERT that silently skips rows whose <paramref name="conflictColumns"/> already exist,
    /// so retried writes are idempotent.
    /// </summary>
    public abstract string InsertIgnoringDuplicates(string table, IReadOnlyList<string> columns, IReadOnlyList<string> conflictColumns);

    /// <summary>
    /// A multi-row INSERT that skips rows whose <paramref name="conflictColumns"/> already exist and
    /// returns <paramref name="returnColumn"/> of each row it did insert (or nothing when it is null:
    /// the rows-affected count then tells). <paramref name="rows"/> holds one value expression per
    /// column for each row (parameter names, possibly shared between rows).
    /// </summary>
    public virtual string InsertManyIgnoringDuplicates(
        string table, IReadOnlyList<string> columns, IReadOnlyList<IReadOnlyList<string>> rows, IReadOnlyList<string> conflictColumns, string? returnColumn) =>
        $"INSERT INTO {table} ({string.Join(", ", columns)}) VALUES {string.Join(", ", rows.Select(r => $"({string.Join(", ", r)})"))} " +
        $"ON CONFLICT ({string.Join(", ", conflictColumns)}) DO NOTHING" + (returnColumn is null ? "" : $" RETURNING {returnColumn}");

    /// <summary>
    /// <c>column IN @list</c> for a list parameter. Dapper expands lists into one parameter per item,
    /// except on Npgsql, where it sends a native array that only <c>= ANY(@list)</c> accepts.
    /// </summary>
    public virtual string InList(string column, string listParameter) => $"{column} IN @{listParameter}";

    /// <summary>
    /// Table hint written after the table name in a <c>SELECT … FROM table{hint} WHERE …</c> that
    /// locks the rows it reads until the transaction ends, so a second writer waits (SQL Server:
    /// UPDLOCK, HOLDLOCK). Empty where <see cref="RowLockSuffix"/> does the job or the database
    /// locks as a whole (SQLite's BEGIN IMMEDIATE).
    /// </summary>
    public virtual string RowLockHint => "";

    /// <summary>Suffix of the same locking SELECT (PostgreSQL: FOR UPDATE).</summary>
    public virtual string RowLockSuffix => "";

    /// <summary>
    /// A DELETE of at most <paramref name="limitParameter"/> rows of <paramref name="table"/> matching
    /// <paramref name="where"/>, so a large delete runs as many short transactions instead of one that
    /// holds its locks (and, on SQLite, the one write lock) for the whole job. Which rows of the match
    /// go first is unspecified; callers repeat until it deletes none.
    /// </summary>
    public abstract string DeleteBatch(string table, string where, string limitParameter);

    /// <summary>
    /// Most parameters one statement may carry (SQLite 32,766 since 3.32, PostgreSQL 65,535, SQL
    /// Server 2,100), kept a little under the documented limit.
    /// </summary>
    public abstract int MaxParameters { get; }

    /// <summary>
    /// Most rows in one VALUES list: SQL Server refuses more than 1,000 (error 10738); the same cap
    /// everywhere keeps the statements alike.
    /// </summary>
    public const int MaxRowsPerInsert = 1_000;

    /// <summary>How many rows of <paramref name="columnCount"/> columns one <see cref="MultiRowInsert"/> may carry.</summary>
    public int RowsPerInsert(int columnCount) => Math.Clamp(MaxParameters / columnCount, 1, MaxRowsPerInsert);

    /// <summary>
    /// <c>INSERT INTO table (a, b) VALUES (@a_0, @b_0), (@a_1, @b_1), …</c> for <paramref name="rows"/> rows:
    /// one statement, and on a server database one round trip, instead of one per row. The same text
    /// on all three databases; parameter <c>@{column}_{row}</c> holds row <c>row</c>'s value.
    /// </summary>
    public static string MultiRowInsert(string table, IReadOnlyList<string> columns, int rows)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        var sql = new System.Text.StringBuilder($"INSERT INTO {table} ({string.Join(", ", columns)}) VALUES ");
        for (var row = 0; row < rows; row++)
        {
            sql.Append(row == 0 ? "(" : ", (");
            for (var c = 0; c < columns.Count; c++)
            {
                sql.Append(c == 0 ? "@" : ", @").Append(columns[c]).Append('_').Append(row);
            }
            sql.Append(')');
        }
        return sql.ToString();
    }

    /// <summary>
    /// <c>INSERT INTO t (…) VALUES (…)</c> that returns <paramref name="column"/> of the new row
    /// (RETURNING on SQLite and PostgreSQL, OUTPUT INSERTED on SQL Server, which wants it before VALUES).
    /// </summary>
    public virtual string InsertReturning(string insertInto, string values, string column) =>
        $"{insertInto} {values} RETURNING {column}";

    /// <summary>
    /// Whether a bulk write goes in as one prepared single-row INSERT executed per row rather than as
    /// multi-row INSERTs. SQLite runs in-process with no round trips: there re-executing one prepared
    /// statement measured 3 to 6 times faster than a multi-row statement, which it must compile afresh
    /// and bind thousands of named parameters into. On the server databases every statement is a
    /// network round trip, so rows go in as many per statement as <see cref="MaxParameters"/> allows.
    /// </summary>
    public virtual bool InsertsRowByRow => false;

    /// <summary>
    /// Whether a savepoint that is no longer needed is released. SQL Server has no RELEASE SAVEPOINT:
    /// its savepoints stay until the transaction commits.
    /// </summary>
    public virtual bool ReleasesSavepoints => true;

    /// <summary>A unique or primary-key violation: the row's key is taken (someone else got there first).</summary>
    public abstract bool IsUniqueViolation(System.Data.Common.DbException exception);

    public static SqlDialect For(DatabaseProvider provider) => provider switch
    {
        DatabaseProvider.Sqlite => SqliteDialect.Instance,
        DatabaseProvider.Postgres => PostgresDialect.Instance,
        DatabaseProvider.SqlServer => SqlServerDialect.Instance,
        _ => throw new ArgumentOutOfRangeException(nameof(provider), provider, "Unknown database provider."),
    };

    protected static string Values(IReadOnlyList<string> columns) => string.Join(", ", columns.Select(c => "@" + c));
}

public sealed class SqliteDialect : SqlDialect
{
    public static readonly SqliteDialect Instance = new();

    public override DatabaseProvider Provider => DatabaseProvider.Sqlite;

    public override int MaxParameters => 30_000;

    public override bool InsertsRowByRow => true;

    public override string Limit(string limitParameter) => $" LIMIT @{limitParameter}";

    // DELETE … LIMIT needs a compile-time option most builds lack; the rowid subquery does the same.
    public override string DeleteBatch(string table, string where, string limitParameter) =>
        $"DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} WHERE {where} LIMIT @{limitParameter})";

    public override string InsertIgnoringDuplicates(string table, IReadOnlyList<string> columns, IReadOnlyList<string> conflictColumns) =>
        $"INSERT INTO {table} ({string.Join(", ", columns)}) VALUES ({Values(columns)}) ON CONFLICT ({string.Join(", ", conflictColumns)}) DO NOTHING";

    // SQLITE_CONSTRAINT_UNIQUE (2067) and SQLITE_CONSTRAINT_PRIMARYKEY (1555).
    public override bool IsUniqueViolation(System.Data.Common.DbException exception) =>
        exception is Microsoft.Data.Sqlite.SqliteException { SqliteErrorCode: 19, SqliteExtendedErrorCode: 2067 or 1555 };
}

public sealed class PostgresDialect : SqlDialect
{
    public static readonly PostgresDialect Instance = new();

    public override DatabaseProvider Provider => DatabaseProvider.Postgres;

    public override int MaxParameters => 30_000;

    public override string InList(string column, string listParameter) => $"{column} = ANY(@{listParameter})";

    public override string RowLockSuffix => " FOR UPDATE";

    public override string Limit(string limitParameter) => $" LIMIT @{limitParameter}";

    // PostgreSQL has no DELETE … LIMIT; the physical row ids of one batch, as an array, make a TID
    // scan (ctid IN (subquery) would plan a semi-join over the whole table).
    public override string DeleteBatch(string table, string where, string limitParameter) =>
        $"DELETE FROM {table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {table} WHERE {where} LIMIT @{limitParameter}))";

    public override string InsertIgnoringDuplicates(string table, IReadOnlyList<string> columns, IReadOnlyList<string> conflictColumns) =>
        $"INSERT INTO {table} ({string.Join(", ", columns)}) VALUES ({Values(columns)}) ON CONFLICT ({string.Join(", ", conflictColumns)}) DO NOTHING";

    public override bool IsUniqueViolation(System.Data.Common.DbException exception) =>
        exception is Npgsql.PostgresException { SqlState: Npgsql.PostgresErrorCodes.UniqueViolation };
}

public sealed class SqlServerDialect : SqlDialect
{
    public static readonly SqlServerDialect Instance = new();

    public override DatabaseProvider Provider => DatabaseProvider.SqlServer;

    // UPDLOCK takes the update lock a writer needs; HOLDLOCK keeps it (serializable) to the commit.
    public override string RowLockHint => " WITH (UPDLOCK, HOLDLOCK)";

    // 2,100 per request, and SqlClient's own parameters for sp_executesql count against it.
    public override int MaxParameters => 2_000;

    public override bool ReleasesSavepoints => false;

    // SQL Server has no LIMIT; OFFSET/FETCH needs the ORDER BY every paged query already has.
    public override string Limit(string limitParameter) => $" OFFSET 0 ROWS FETCH NEXT @{limitParameter} ROWS ONLY";

    public override string DeleteBatch(string table, string where, string limitParameter) =>
        $"DELETE TOP (@{limitParameter}) FROM {table} WHERE {where}";

    public override string InsertIgnoringDuplicates(string table, IReadOnlyList<string> columns, IReadOnlyList<string> conflictColumns) =>
        $"INSERT INTO {table} ({string.Join(", ", columns)}) SELECT {Values(columns)} " +
        $"WHERE NOT EXISTS (SELECT 1 FROM {table} WITH (UPDLOCK, HOLDLOCK) WHERE " +
        string.Join(" AND ", conflictColumns.Select(c => $"{c} = @{c}")) + ")";

    // No ON CONFLICT: the rows become a derived table, and the locking hints hold the key range so a
    // concurrent insert of the same key waits instead of failing on the unique index. NOT EXISTS sees
    // the table as it was before this statement, so two rows of one statement that the collation
    // calls equal ("a" and "a ", or "a" and "A" under a case-insensitive collation) would both pass it
    // and fail the unique index; ROW_NUMBER keeps one of them and the other is reported a duplicate.
    public override string InsertManyIgnoringDuplicates(
        string table, IReadOnlyList<string> columns, IReadOnlyList<IReadOnlyList<string>> rows, IReadOnlyList<string> conflictColumns, string? returnColumn) =>
        $"INSERT INTO {table} ({string.Join(", ", columns)}) " + (returnColumn is null ? "" : $"OUTPUT inserted.{returnColumn} ") +
        $"SELECT {string.Join(", ", columns.Select(c => "v." + c))} FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY {string.Join(", ", conflictColumns)} ORDER BY (SELECT NULL)) AS row_in_key " +
        $"FROM (VALUES {string.Join(", ", rows.Select(r => $"({string.Join(", ", r)})"))}) AS r ({string.Join(", ", columns)})) AS v " +
        $"WHERE v.row_in_key = 1 AND NOT EXISTS (SELECT 1 FROM {table} t{RowLockHint} WHERE " +
        string.Join(" AND ", conflictColumns.Select(c => $"t.{c} = v.{c}")) + ")";

    public override string InsertReturning(string insertInto, string values, string column) =>
        $"{insertInto} OUTPUT INSERTED.{column} {values}";

    // 2601: duplicate key in a unique index; 2627: violation of a PRIMARY KEY or UNIQUE constraint.
    public override bool IsUniqueViolation(System.Data.Common.DbException exception) =>
        exception is Microsoft.Data.SqlClient.SqlException { Number: 2601 or 2627 };
}
