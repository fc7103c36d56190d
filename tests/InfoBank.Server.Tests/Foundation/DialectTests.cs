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

    // Bulk writers (the record vault, the audit log) pick their insert path from this alone.
    [Theory]
    [InlineData(DatabaseProvider.Sqlite, true)]
    [InlineData(DatabaseProvider.Postgres, false)]
    [InlineData(DatabaseProvider.SqlServer, false)]
    public void Only_sqlite_inserts_row_by_row(DatabaseProvider provider, bool expected) =>
        Assert.Equal(expected, SqlDialect.For(provider).InsertsRowByRow);

    // T-SQL has SAVE TRANSACTION and ROLLBACK TRANSACTION name but no RELEASE SAVEPOINT.
    [Theory]
    [InlineData(DatabaseProvider.Sqlite, true)]
    [InlineData(DatabaseProvider.Postgres, true)]
    [InlineData(DatabaseProvider.SqlServer, false)]
    public void Sql_server_does_not_release_savepoints(DatabaseProvider provider, bool expected) =>
        Assert.Equal(expected, SqlDialect.For(provider).ReleasesSavepoints);

    [Fact]
    public void Multi_row_insert_names_each_rows_parameters_by_column_and_row() =>
        Assert.Equal("INSERT INTO t (a, a_1) VALUES (@a_0, @a_1_0), (@a_1, @a_1_1), (@a_2, @a_1_2)",
            SqlDialect.MultiRowInsert("t", ["a", "a_1"], 3));

    [Fact]
    public void Multi_row_insert_of_one_row_is_a_plain_insert() =>
        Assert.Equal("INSERT INTO t (a, b) VALUES (@a_0, @b_0)", SqlDialect.MultiRowInsert("t", ["a", "b"], 1));

    [Fact]
    public void Multi_row_insert_refuses_zero_rows() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => SqlDialect.MultiRowInsert("t", ["a"], 0));

    // SQL Server allows 2,100 parameters per request and 1,000 rows per VALUES list; the audit
    // log's 11-column rows and 3-column tree nodes must fit under both.
    [Theory]
    [InlineData(DatabaseProvider.Sqlite, 11, 1_000)]
    [InlineData(DatabaseProvider.Postgres, 11, 1_000)]
    [InlineData(DatabaseProvider.Postgres, 40, 750)]
    [InlineData(DatabaseProvider.SqlServer, 11, 181)]
    [InlineData(DatabaseProvider.SqlServer, 3, 666)]
    [InlineData(DatabaseProvider.SqlServer, 1, 1_000)]
    [InlineData(DatabaseProvider.SqlServer, 5_000, 1)]
    public void Rows_per_insert_stay_under_the_parameter_limit(DatabaseProvider provider, int columns, int expected)
    {
        var dialect = SqlDialect.For(provider);
        Assert.Equal(expected, dialect.RowsPerInsert(columns));
        Assert.True(expected == 1 || expected * columns <= dialect.MaxParameters);
        Assert.True(expected <= SqlDialect.MaxRowsPerInsert);
    }

    [Theory]
    [InlineData(DatabaseProvider.Sqlite, "SELECT tree_size AS Size, last_time, hashes FROM audit_frontier WHERE id = 1")]
    [InlineData(DatabaseProvider.Postgres, "SELECT tree_size AS Size, last_time, hashes FROM audit_frontier WHERE id = 1 FOR UPDATE")]
    [InlineData(DatabaseProvider.SqlServer, "SELECT tree_size AS Size, last_time, hashes FROM audit_frontier WITH (UPDLOCK, HOLDLOCK) WHERE id = 1")]
    public void Audit_frontier_is_read_under_a_row_lock(DatabaseProvider provider, string expected) =>
        Assert.Equal(expected, InfoBank.Server.Features.Audit.AuditStore.FrontierSelect(SqlDialect.For(provider), forUpdate: true));

    [Theory]
    [InlineData(DatabaseProvider.Postgres)]
    [InlineData(DatabaseProvider.SqlServer)]
    public void Audit_frontier_is_read_without_a_lock_outside_the_writer(DatabaseProvider provider) =>
        Assert.Equal("SELECT tree_size AS Size, last_time, hashes FROM audit_frontier WHERE id = 1",
            InfoBank.Server.Features.Audit.AuditStore.FrontierSelect(SqlDialect.For(provider), forUpdate: false));
}
