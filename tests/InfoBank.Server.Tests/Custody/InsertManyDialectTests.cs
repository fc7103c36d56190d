using InfoBank.Server.Infrastructure.Db;

namespace InfoBank.Server.Tests.Custody;

/// <summary>
/// The multi-row insert the deposit path uses, pinned as text for each dialect (SQL Server cannot run
/// here; its form follows the documented OUTPUT, derived-table VALUES and UPDLOCK/HOLDLOCK syntax).
/// </summary>
public sealed class InsertManyDialectTests
{
    private static readonly IReadOnlyList<IReadOnlyList<string>> Rows = [["@a0", "@s"], ["@a1", "@s"]];

    [Theory]
    [InlineData(DatabaseProvider.Sqlite, "INSERT INTO t (a, s) VALUES (@a0, @s), (@a1, @s) ON CONFLICT (s, a) DO NOTHING RETURNING a")]
    [InlineData(DatabaseProvider.Postgres, "INSERT INTO t (a, s) VALUES (@a0, @s), (@a1, @s) ON CONFLICT (s, a) DO NOTHING RETURNING a")]
    [InlineData(DatabaseProvider.SqlServer,
        "INSERT INTO t (a, s) OUTPUT inserted.a SELECT v.a, v.s FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY s, a ORDER BY (SELECT NULL)) AS row_in_key " +
        "FROM (VALUES (@a0, @s), (@a1, @s)) AS r (a, s)) AS v " +
        "WHERE v.row_in_key = 1 AND NOT EXISTS (SELECT 1 FROM t t WITH (UPDLOCK, HOLDLOCK) WHERE t.s = v.s AND t.a = v.a)")]
    public void Returning_the_inserted_rows(DatabaseProvider provider, string expected) =>
        Assert.Equal(expected, SqlDialect.For(provider).InsertManyIgnoringDuplicates("t", ["a", "s"], Rows, ["s", "a"], "a"));

    [Theory]
    [InlineData(DatabaseProvider.Sqlite, "INSERT INTO t (a, s) VALUES (@a0, @s), (@a1, @s) ON CONFLICT (s, a) DO NOTHING")]
    [InlineData(DatabaseProvider.SqlServer,
        "INSERT INTO t (a, s) SELECT v.a, v.s FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY s, a ORDER BY (SELECT NULL)) AS row_in_key " +
        "FROM (VALUES (@a0, @s), (@a1, @s)) AS r (a, s)) AS v " +
        "WHERE v.row_in_key = 1 AND NOT EXISTS (SELECT 1 FROM t t WITH (UPDLOCK, HOLDLOCK) WHERE t.s = v.s AND t.a = v.a)")]
    public void Counting_the_inserted_rows(DatabaseProvider provider, string expected) =>
        Assert.Equal(expected, SqlDialect.For(provider).InsertManyIgnoringDuplicates("t", ["a", "s"], Rows, ["s", "a"], null));
}
