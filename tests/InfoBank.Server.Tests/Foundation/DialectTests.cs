using InfoBank.Server.Infrastructure.Db;

namespace InfoBank.Server.Tests.Foundation;

/// <summary>
/// The generated SQL of each dialect, checked as text: SQL Server cannot run here, so its
/// fragments are pinned against the documented syntax (OFFSET/FETCH, NOT EXISTS with UPDLOCK, HOLDLOCK).
/// </summary>
public sealed class DialectTests
{
    [Theory]
    [InlineData(DatabaseProvider.Sqlite, " LIMIT @n")]
    [InlineData(DatabaseProvider.Postgres, " LIMIT @n")]
    [InlineData(DatabaseProvider.SqlServer, " OFFSET 0 ROWS FETCH NEXT @n ROWS ONLY")]
    public void Limit(DatabaseProvider provider, string expected) =>
        Assert.Equal(expected, SqlDialect.For(provider).Limit("n"));

    [Theory]
    [InlineData(DatabaseProvider.Sqlite, "INSERT INTO t (a, b) VALUES (@a, @b) ON CONFLICT (a) DO NOTHING")]
    [InlineData(DatabaseProvider.Postgres, "INSERT INTO t (a, b) VALUES (@a, @b) ON CONFLICT (a) DO NOTHING")]
    [InlineData(DatabaseProvider.SqlServer, "INSERT INTO t (a, b) SELECT @a, @b WHERE NOT EXISTS (SELECT 1 FROM t WITH (UPDLOCK, HOLDLOCK) WHERE a = @a)")]
    public void Insert_ignoring_duplicates(DatabaseProvider provider, string expected) =>
        Assert.Equal(expected, SqlDialect.For(provider).InsertIgnoringDuplicates("t", ["a", "b"], ["a"]));

    [Theory]
    [InlineData(DatabaseProvider.Sqlite, "c IN @xs")]
    [InlineData(DatabaseProvider.Postgres, "c = ANY(@xs)")]
    [InlineData(DatabaseProvider.SqlServer, "c IN @xs")]
    public void In_list(DatabaseProvider provider, string expected) =>
        Assert.Equal(expected, SqlDialect.For(provider).InList("c", "xs"));
}
