namespace InfoBank.Server.Infrastructure.Db;

/// <summary>
/// The few places where our SQL differs between databases. Stores keep their SQL as constants and
/// splice in these fragments; everything else is written once in the common subset.
/// </summary>
public abstract class SqlDialect
{
    public abstract DatabaseProvider Provider { get; }

    /// <summary>Suffix after an ORDER BY that returns at most <paramref name="limitParameter"/> rows.</summary>
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

    /// <summary>The most parameters one statement may carry.</summary>
    public abstract int MaxParameters { get; }

    /// <summary>
    /// <c>column IN @list</c> for a list parameter. Dapper expands lists into one parameter per item,
    /// except on Npgsql, where it sends a native array that only <c>= ANY(@list)</c> accepts.
    /// </summary>
    public virtual string InList(string column, string listParameter) => $"{column} IN @{listParameter}";

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

    // SQLITE_MAX_VARIABLE_NUMBER since 3.32.
    public override int MaxParameters => 32_766;

    public override string Limit(string limitParameter) => $" LIMIT @{limitParameter}";

    public override string InsertIgnoringDuplicates(string table, IReadOnlyList<string> columns, IReadOnlyList<string> conflictColumns) =>
        $"INSERT INTO {table} ({string.Join(", ", columns)}) VALUES ({Values(columns)}) ON CONFLICT ({string.Join(", ", conflictColumns)}) DO NOTHING";
}

public sealed class PostgresDialect : SqlDialect
{
    public static readonly PostgresDialect Instance = new();

    public override DatabaseProvider Provider => DatabaseProvider.Postgres;

    // The wire protocol counts parameters in an Int16.
    public override int MaxParameters => 65_535;

    public override string InList(string column, string listParameter) => $"{column} = ANY(@{listParameter})";

    public override string Limit(string limitParameter) => $" LIMIT @{limitParameter}";

    public override string InsertIgnoringDuplicates(string table, IReadOnlyList<string> columns, IReadOnlyList<string> conflictColumns) =>
        $"INSERT INTO {table} ({string.Join(", ", columns)}) VALUES ({Values(columns)}) ON CONFLICT ({string.Join(", ", conflictColumns)}) DO NOTHING";
}

public sealed class SqlServerDialect : SqlDialect
{
    public static readonly SqlServerDialect Instance = new();

    public override DatabaseProvider Provider => DatabaseProvider.SqlServer;

    // 2,100 per RPC request, less a margin for sp_executesql's own arguments.
    public override int MaxParameters => 2_000;

    // SQL Server has no LIMIT; OFFSET/FETCH needs the ORDER BY every paged query already has.
    public override string Limit(string limitParameter) => $" OFFSET 0 ROWS FETCH NEXT @{limitParameter} ROWS ONLY";

    public override string InsertIgnoringDuplicates(string table, IReadOnlyList<string> columns, IReadOnlyList<string> conflictColumns) =>
        $"INSERT INTO {table} ({string.Join(", ", columns)}) SELECT {Values(columns)} " +
        $"WHERE NOT EXISTS (SELECT 1 FROM {table} WITH (UPDLOCK, HOLDLOCK) WHERE " +
        string.Join(" AND ", conflictColumns.Select(c => $"{c} = @{c}")) + ")";

    // No ON CONFLICT: the rows become a derived table, and the locking hints hold the key range so a
    // concurrent insert of the same key waits instead of failing on the unique index.
    public override string InsertManyIgnoringDuplicates(
        string table, IReadOnlyList<string> columns, IReadOnlyList<IReadOnlyList<string>> rows, IReadOnlyList<string> conflictColumns, string? returnColumn) =>
        $"INSERT INTO {table} ({string.Join(", ", columns)}) " + (returnColumn is null ? "" : $"OUTPUT inserted.{returnColumn} ") +
        $"SELECT {string.Join(", ", columns.Select(c => "v." + c))} FROM (VALUES {string.Join(", ", rows.Select(r => $"({string.Join(", ", r)})"))}) AS v ({string.Join(", ", columns)}) " +
        $"WHERE NOT EXISTS (SELECT 1 FROM {table} t WITH (UPDLOCK, HOLDLOCK) WHERE " +
        string.Join(" AND ", conflictColumns.Select(c => $"t.{c} = v.{c}")) + ")";
}
