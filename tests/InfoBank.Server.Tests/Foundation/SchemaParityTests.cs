using System.Reflection;
using Dapper;
using InfoBank.Server.Infrastructure.Db;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.SqlServer.TransactSql.ScriptDom;

namespace InfoBank.Server.Tests.Foundation;

/// <summary>
/// The shape of a schema the three databases must agree on: tables, their columns, primary keys and
/// explicitly created indexes (name, table and columns). Types are left out: each dialect spells them its own way.
/// </summary>
public sealed record SchemaShape(
    SortedDictionary<string, SortedSet<string>> Columns,
    SortedDictionary<string, string> PrimaryKeys,
    SortedDictionary<string, string> Indexes)
{
    public static SchemaShape Empty() => new(new(StringComparer.Ordinal), new(StringComparer.Ordinal), new(StringComparer.Ordinal));

    /// <summary>Every difference, one line each, named so a failing test says what to fix.</summary>
    public IEnumerable<string> DifferencesFrom(SchemaShape other, string mine, string theirs)
    {
        foreach (var table in Columns.Keys.Union(other.Columns.Keys).Order(StringComparer.Ordinal))
        {
            var a = Columns.GetValueOrDefault(table);
            var b = other.Columns.GetValueOrDefault(table);
            if (a is null || b is null)
            {
                yield return $"table {table} exists only in {(a is null ? theirs : mine)}";
                continue;
            }
            foreach (var column in a.Except(b))
            {
                yield return $"column {table}.{column} exists only in {mine}";
            }
            foreach (var column in b.Except(a))
            {
                yield return $"column {table}.{column} exists only in {theirs}";
            }
            if (PrimaryKeys.GetValueOrDefault(table) != other.PrimaryKeys.GetValueOrDefault(table))
            {
                yield return $"primary key of {table}: ({PrimaryKeys.GetValueOrDefault(table)}) in {mine}, ({other.PrimaryKeys.GetValueOrDefault(table)}) in {theirs}";
            }
        }
        foreach (var index in Indexes.Keys.Union(other.Indexes.Keys).Order(StringComparer.Ordinal))
        {
            var a = Indexes.GetValueOrDefault(index);
            var b = other.Indexes.GetValueOrDefault(index);
            if (a != b)
            {
                yield return $"index {index}: {a ?? "absent"} in {mine}, {b ?? "absent"} in {theirs}";
            }
        }
    }
}

/// <summary>Reads a schema's shape from the SQL Server migration scripts, through Microsoft's own T-SQL parser.</summary>
public static class TSqlScripts
{
    public static TSqlFragment Parse(string sql, out IList<ParseError> errors)
    {
        var parser = new TSql160Parser(initialQuotedIdentifiers: true);
        using var reader = new StringReader(sql);
        return parser.Parse(reader, out errors);
    }

    public static string Script(string name)
    {
        var resource = Migrator.ScriptAssembly.GetManifestResourceNames().Single(n => n.EndsWith(".Migrations.sqlserver." + name, StringComparison.Ordinal));
        using var stream = Migrator.ScriptAssembly.GetManifestResourceStream(resource)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>The schema every SQL Server script declares, applied in order.</summary>
    public static SchemaShape Declared()
    {
        var shape = SchemaShape.Empty();
        foreach (var name in Migrator.ScriptNames(DatabaseProvider.SqlServer))
        {
            var fragment = Parse(Script(name), out var errors);
            Assert.True(errors.Count == 0, $"{name}: {string.Join("; ", errors.Select(e => $"line {e.Line}: {e.Message}"))}");
            fragment.Accept(new ShapeVisitor(shape));
        }
        return shape;
    }

    private static string Name(Identifier identifier) => identifier.Value.ToLowerInvariant();

    private static string Table(SchemaObjectName name) => Name(name.BaseIdentifier);

    private sealed class ShapeVisitor(SchemaShape shape) : TSqlFragmentVisitor
    {
        public override void ExplicitVisit(CreateTableStatement node)
        {
            var table = Table(node.SchemaObjectName);
            shape.Columns[table] = new SortedSet<string>(node.Definition.ColumnDefinitions.Select(c => Name(c.ColumnIdentifier)), StringComparer.Ordinal);
            foreach (var column in node.Definition.ColumnDefinitions)
            {
                if (column.Constraints.OfType<UniqueConstraintDefinition>().Any(c => c.IsPrimaryKey))
                {
                    shape.PrimaryKeys[table] = Name(column.ColumnIdentifier);
                }
            }
            foreach (var constraint in node.Definition.TableConstraints.OfType<UniqueConstraintDefinition>().Where(c => c.IsPrimaryKey))
            {
                shape.PrimaryKeys[table] = string.Join(",", constraint.Columns.Select(c => Name(c.Column.MultiPartIdentifier.Identifiers[^1])));
            }
            base.ExplicitVisit(node);
        }

        public override void ExplicitVisit(AlterTableAddTableElementStatement node)
        {
            var table = Table(node.SchemaObjectName);
            foreach (var column in node.Definition.ColumnDefinitions)
            {
                shape.Columns[table].Add(Name(column.ColumnIdentifier));
            }
            // The old key is dropped by name through dynamic SQL (its name is generated), so a new one replaces it.
            foreach (var constraint in node.Definition.TableConstraints.OfType<UniqueConstraintDefinition>().Where(c => c.IsPrimaryKey))
            {
                shape.PrimaryKeys[table] = string.Join(",", constraint.Columns.Select(c => Name(c.Column.MultiPartIdentifier.Identifiers[^1])));
            }
        }

        public override void ExplicitVisit(AlterTableDropTableElementStatement node)
        {
            var table = Table(node.SchemaObjectName);
            foreach (var element in node.AlterTableDropTableElements.Where(e => e.TableElementType == TableElementType.Column))
            {
                shape.Columns[table].Remove(Name(element.Name));
            }
        }

        public override void ExplicitVisit(DropTableStatement node)
        {
            foreach (var name in node.Objects)
            {
                shape.Columns.Remove(Table(name));
                shape.PrimaryKeys.Remove(Table(name));
                foreach (var index in shape.Indexes.Where(i => i.Value.StartsWith(Table(name) + "(", StringComparison.Ordinal)).ToList())
                {
                    shape.Indexes.Remove(index.Key);
                }
            }
        }

        public override void ExplicitVisit(CreateIndexStatement node) =>
            shape.Indexes[Name(node.Name)] = $"{Table(node.OnName)}({string.Join(",", node.Columns.Select(c => Name(c.Column.MultiPartIdentifier.Identifiers[^1])))})";

        public override void ExplicitVisit(DropIndexStatement node)
        {
            foreach (var clause in node.DropIndexClauses.OfType<DropIndexClause>())
            {
                shape.Indexes.Remove(Name(clause.Index));
            }
        }
    }
}

/// <summary>
/// SQL Server cannot run here, so its SQL is checked by Microsoft's T-SQL parser: every migration
/// script, every statement the SQL Server dialect composes, and every SQL constant the stores share
/// across databases. And the three databases must declare the same schema.
/// </summary>
public sealed class SqlServerScriptTests
{
    [Fact]
    public void Every_sql_server_migration_parses()
    {
        var names = Migrator.ScriptNames(DatabaseProvider.SqlServer);
        Assert.Equal(Migrator.ScriptNames(DatabaseProvider.Sqlite), names);
        Assert.Equal(Migrator.ScriptNames(DatabaseProvider.Postgres), names);
        foreach (var name in names)
        {
            TSqlScripts.Parse(TSqlScripts.Script(name), out var errors);
            Assert.True(errors.Count == 0, $"{name}: {string.Join("; ", errors.Select(e => $"line {e.Line}: {e.Message}"))}");
        }
    }

    [Fact]
    public void Statements_the_sql_server_dialect_composes_parse()
    {
        var dialect = SqlDialect.For(DatabaseProvider.SqlServer);
        string[] columns = ["id", "resident_id", "observed_at"];
        var statements = new[]
        {
            $"SELECT id FROM custody_records WHERE resident_id = @r ORDER BY id{dialect.Limit("take")}",
            $"SELECT id FROM custody_records{dialect.RowLockHint} WHERE resident_id = @r{dialect.RowLockSuffix}",
            $"SELECT id FROM custody_records WHERE {dialect.InList("id", "ids")}",
            dialect.InsertIgnoringDuplicates("custody_records", columns, ["id"]),
            dialect.InsertManyIgnoringDuplicates("custody_records", columns, [["@a0", "@b0", "@c0"], ["@a1", "@b1", "@c1"]], ["id"], "id"),
            dialect.InsertManyIgnoringDuplicates("custody_records", columns, [["@a0", "@b0", "@c0"]], ["id", "resident_id"], null),
            SqlDialect.MultiRowInsert("custody_records", columns, 3),
            dialect.DeleteBatch("custody_records", "category = @category AND observed_at < @keptFrom", "batch"),
            dialect.InsertReturning("INSERT INTO consents (id, subject_id)", "VALUES (@id, @subject)", "id"),
        };
        foreach (var sql in statements)
        {
            // Dapper expands "IN @ids" into a parameter list before SQL Server sees it.
            TSqlScripts.Parse(sql.Replace("IN @ids", "IN (@ids1, @ids2)", StringComparison.Ordinal), out var errors);
            Assert.True(errors.Count == 0, $"{sql}\n{string.Join("; ", errors.Select(e => e.Message))}");
        }
    }

    [Fact]
    public void Sql_the_stores_share_across_databases_is_valid_t_sql()
    {
        var shared = typeof(Migrator).Assembly.GetTypes()
            .SelectMany(t => t.GetFields(BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public)
                .Where(f => f.IsLiteral && f.FieldType == typeof(string))
                .Select(f => (Name: $"{t.Name}.{f.Name}", Sql: (string)f.GetRawConstantValue()!)))
            .Where(c => StartsLikeSql(c.Sql))
            // Statements written for one database say so in their name; fragments are completed elsewhere.
            .Where(c => !c.Name.EndsWith("Sqlite", StringComparison.Ordinal) && !c.Name.EndsWith("Postgres", StringComparison.Ordinal))
            .Where(c => !c.Sql.TrimStart().StartsWith("INSERT ", StringComparison.Ordinal)
                || c.Sql.Contains("VALUES", StringComparison.Ordinal) || c.Sql.Contains("SELECT", StringComparison.Ordinal))
            .ToList();
        Assert.True(shared.Count > 20, $"only {shared.Count} SQL constants were found: the scan is broken");
        var failures = new List<string>();
        foreach (var (name, sql) in shared)
        {
            TSqlScripts.Parse(sql.Replace("IN @", "IN (@", StringComparison.Ordinal).Replace(" IN (@ids", " IN (@ids)", StringComparison.Ordinal), out var errors);
            if (errors.Count > 0)
            {
                failures.Add($"{name}: {errors[0].Message} in: {sql}");
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    private static bool StartsLikeSql(string text)
    {
        var head = text.TrimStart();
        return new[] { "SELECT ", "INSERT ", "UPDATE ", "DELETE ", "WITH " }.Any(k => head.StartsWith(k, StringComparison.Ordinal))
            && head.Contains(' ', StringComparison.Ordinal);
    }
}

/// <summary>The migrated SQLite and PostgreSQL schemas and the one the SQL Server scripts declare are the same.</summary>
public sealed class SchemaParityTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>
{
    private const string Journal = "schemaversions";

    private static async Task<SchemaShape> SqliteAsync(DbConnectionFactory connections)
    {
        await using var connection = await connections.OpenAsync();
        var shape = SchemaShape.Empty();
        var tables = await connection.QueryAsync<string>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'");
        foreach (var table in tables.Select(t => t.ToLowerInvariant()).Where(t => t != Journal))
        {
            var columns = (await connection.QueryAsync<(string Name, long Pk)>($"SELECT name, pk FROM pragma_table_info('{table}')")).ToList();
            shape.Columns[table] = new SortedSet<string>(columns.Select(c => c.Name.ToLowerInvariant()), StringComparer.Ordinal);
            var key = columns.Where(c => c.Pk > 0).OrderBy(c => c.Pk).Select(c => c.Name.ToLowerInvariant()).ToList();
            if (key.Count > 0)
            {
                shape.PrimaryKeys[table] = string.Join(",", key);
            }
        }
        // Only indexes a script created (constraints' own indexes have no SQL).
        // One deliberate difference: on SQLite, custody_records keeps an integer rowid (seq) as its key,
        // the cheapest insert there, and a unique index on (resident_id, observed_at, id) where the
        // server databases cluster on that key (migration 08). Read as the key it stands for.
        const string clusteredKey = "ux_custody_records_resident";
        foreach (var (name, table) in await connection.QueryAsync<(string, string)>("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"))
        {
            var columns = await connection.QueryAsync<string>($"SELECT name FROM pragma_index_info('{name}') ORDER BY seqno");
            var key = string.Join(",", columns.Select(c => c.ToLowerInvariant()));
            if (name == clusteredKey)
            {
                shape.PrimaryKeys[table] = key;
                shape.Columns[table].Remove("seq");
                continue;
            }
            shape.Indexes[name.ToLowerInvariant()] = $"{table.ToLowerInvariant()}({key})";
        }
        return shape;
    }

    private static async Task<SchemaShape> PostgresAsync(DbConnectionFactory connections)
    {
        await using var connection = await connections.OpenAsync();
        var shape = SchemaShape.Empty();
        foreach (var (table, column) in await connection.QueryAsync<(string, string)>(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()"))
        {
            if (table.Equals(Journal, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }
            if (!shape.Columns.TryGetValue(table.ToLowerInvariant(), out var set))
            {
                shape.Columns[table.ToLowerInvariant()] = set = new SortedSet<string>(StringComparer.Ordinal);
            }
            set.Add(column.ToLowerInvariant());
        }
        foreach (var (table, key) in await connection.QueryAsync<(string, string)>("""
            SELECT tc.table_name, string_agg(kcu.column_name, ',' ORDER BY kcu.ordinal_position)
            FROM information_schema.table_constraints tc
            JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name AND kcu.table_schema = tc.table_schema
            WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = current_schema()
            GROUP BY tc.table_name
            """))
        {
            if (!table.Equals(Journal, StringComparison.OrdinalIgnoreCase))
            {
                shape.PrimaryKeys[table.ToLowerInvariant()] = key.ToLowerInvariant();
            }
        }
        // Indexes that back no constraint: the ones a script created with CREATE INDEX.
        foreach (var (name, table, columns) in await connection.QueryAsync<(string, string, string)>("""
            SELECT i.relname, t.relname,
                   string_agg(a.attname, ',' ORDER BY array_position(ix.indkey::int2[], a.attnum))
            FROM pg_index ix
            JOIN pg_class i ON i.oid = ix.indexrelid
            JOIN pg_class t ON t.oid = ix.indrelid
            JOIN pg_namespace n ON n.oid = t.relnamespace
            JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(ix.indkey)
            WHERE n.nspname = current_schema()
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid)
            GROUP BY i.relname, t.relname
            """))
        {
            shape.Indexes[name.ToLowerInvariant()] = $"{table}({columns})".ToLowerInvariant();
        }
        return shape;
    }

    [Fact]
    public async Task Sqlite_and_the_sql_server_scripts_declare_the_same_schema()
    {
        var sqlite = new SqliteFixture();
        await sqlite.InitializeAsync();
        try
        {
            var differences = (await SqliteAsync(sqlite.Connections)).DifferencesFrom(TSqlScripts.Declared(), "SQLite", "SQL Server").ToList();
            Assert.True(differences.Count == 0, string.Join("\n", differences));
        }
        finally
        {
            await sqlite.DisposeAsync();
        }
    }

    [SkippableFact]
    public async Task Sqlite_and_postgres_migrate_to_the_same_schema()
    {
        Skip.If(postgres.SkipReason is not null, postgres.SkipReason);
        var sqlite = new SqliteFixture();
        await sqlite.InitializeAsync();
        try
        {
            var differences = (await SqliteAsync(sqlite.Connections)).DifferencesFrom(await PostgresAsync(postgres.Connections), "SQLite", "PostgreSQL").ToList();
            Assert.True(differences.Count == 0, string.Join("\n", differences));
        }
        finally
        {
            await sqlite.DisposeAsync();
        }
    }
}
