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

    public override string Limit(string limitParameter) => $" LIMIT @{limitParameter}";

    public override string InsertIgnoringDuplicates(string table, IReadOnlyList<string> columns, IReadOnlyList<string> conflictColumns) =>
        $"INSERT INTO {table} ({string.Join(", ", columns)}) VALUES ({Values(columns)}) ON CONFLICT ({string.Join(", ", conflictColumns)}) DO NOTHING";
}

public sealed class PostgresDialect : SqlDialect
{
    public static readonly PostgresDialect Instance = new();

    public override DatabaseProvider Provider => DatabaseProvider.Postgres;

    public override string InList(string column, string listParameter) => $"{column} = ANY(@{listParameter})";

    public override string Limit(string limitParameter) => $" LIMIT @{limitParameter}";

    public override string InsertIgnoringDuplicates(string table, IReadOnlyList<string> columns, IReadOnlyList<string> conflictColumns) =>
        $"INSERT INTO {table} ({string.Join(", ", columns)}) VALUES ({Values(columns)}) ON CONFLICT ({string.Join(", ", conflictColumns)}) DO NOTHING";
}

public sealed class SqlServerDialect : SqlDialect
{
    public static readonly SqlServerDialect Instance = new();

    public override DatabaseProvider Provider => DatabaseProvider.SqlServer;

    // SQL Server has no LIMIT; OFFSET/FETCH needs the ORDER BY every paged query already has.
    public override string Limit(string limitParameter) => $" OFFSET 0 ROWS FETCH NEXT @{limitParameter} ROWS ONLY";

    public override string InsertIgnoringDuplicates(string table, IReadOnlyList<string> columns, IReadOnlyList<string> conflictColumns) =>
        $"INSERT INTO {table} ({string.Join(", ", columns)}) SELECT {Values(columns)} " +
        $"WHERE NOT EXISTS (SELECT 1 FROM {table} WITH (UPDLOCK, HOLDLOCK) WHERE " +
        string.Join(" AND ", conflictColumns.Select(c => $"{c} = @{c}")) + ")";
}
