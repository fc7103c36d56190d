using System.Data;
using System.Data.Common;
using Dapper;
using InfoBank.Core.Audit;
using InfoBank.Server.Infrastructure.Db;

namespace InfoBank.Server.Features.Audit;

/// <summary>The audit tables' SQL. Writes happen only inside <see cref="AuditLogWriter"/>'s transactions.</summary>
public sealed class AuditStore(DbConnectionFactory db)
{
    private const string EntryColumns =
        "seq AS Sequence, time, kind, actor, subject_ref, purpose, " +
        "grant_id, policy_hash, payload, sealed, leaf_hash";

    private const string InsertEntry =
        "INSERT INTO audit_log (seq, time, kind, actor, subject_ref, purpose, grant_id, policy_hash, payload, sealed, leaf_hash) " +
        "VALUES (@Sequence, @Time, @Kind, @Actor, @SubjectRef, @Purpose, @GrantId, @PolicyHash, @Payload, @Sealed, @LeafHash)";

    private const string InsertNode = "INSERT INTO audit_tree_nodes (level, idx, hash) VALUES (@Level, @Index, @Hash)";

    private static readonly string[] EntryInsertColumns =
        ["seq", "time", "kind", "actor", "subject_ref", "purpose", "grant_id", "policy_hash", "payload", "sealed", "leaf_hash"];

    private static readonly string[] NodeInsertColumns = ["level", "idx", "hash"];

    private const string UpdateFrontier =
        "UPDATE audit_frontier SET tree_size = @Size, last_time = @LastTime, hashes = @Hashes WHERE id = 1 AND tree_size = @OldSize";

    private const string CheckpointColumns = "tree_size, root_hash, created_at, key_name, note";

    public DbConnectionFactory Db => db;

    /// <summary>
    /// The frontier's SELECT; <paramref name="forUpdate"/> locks its row to the end of the transaction on
    /// the server databases so a second writer (another node) waits. On SQLite the writer's BEGIN
    /// IMMEDIATE already holds the database's write lock.
    /// </summary>
    internal static string FrontierSelect(SqlDialect dialect, bool forUpdate) =>
        "SELECT tree_size AS Size, last_time, hashes FROM audit_frontier" +
        (forUpdate ? dialect.RowLockHint : "") + " WHERE id = 1" + (forUpdate ? dialect.RowLockSuffix : "");

    /// <summary>Reads the frontier, locking its row on the server databases so a second writer waits.</summary>
    internal async Task<FrontierRow> ReadFrontierAsync(DbConnection connection, DbTransaction? transaction, bool forUpdate)
    {
        var sql = FrontierSelect(db.Dialect, forUpdate);
        return await connection.QuerySingleAsync<FrontierRow>(sql, transaction: transaction);
    }

    /// <summary>
    /// Writes a batch's entries and nodes and moves the frontier. On the server databases the rows go
    /// in as multi-row INSERTs (as many rows per statement as the parameter limit allows): there every
    /// statement is a network round trip made while this writer holds the frontier lock, and one per
    /// row capped the whole log at about 2,000 appends/s on PostgreSQL (README, scale-out). SQLite runs
    /// in-process with no round trips; there one prepared statement re-executed per row measured 3 to 6
    /// times faster at 32 to 128 appenders than a multi-row statement per batch, which SQLite must
    /// compile afresh and bind thousands of named parameters into.
    /// </summary>
    internal async Task WriteBatchAsync(
        DbConnection connection, DbTransaction transaction, IReadOnlyList<AuditRow> entries, IReadOnlyList<NodeRow> nodes,
        long oldSize, CompactRange frontier, DateTimeOffset lastTime)
    {
        if (db.Dialect.InsertsRowByRow)
        {
            await connection.ExecuteAsync(InsertEntry, entries, transaction);
            if (nodes.Count > 0)
            {
                await connection.ExecuteAsync(InsertNode, nodes, transaction);
            }
        }
        else
        {
            await InsertEntriesMultiRowAsync(connection, transaction, entries);
            await InsertNodesMultiRowAsync(connection, transaction, nodes);
        }
        var updated = await connection.ExecuteAsync(UpdateFrontier, new
        {
            frontier.Size,
            LastTime = lastTime,
            Hashes = frontier.ToBytes(),
            OldSize = oldSize,
        }, transaction);
        if (updated != 1)
        {
            throw new InvalidOperationException("The audit frontier moved under the writer: another process appended concurrently.");
        }
    }

    // Server databases only (SQLite values would need the type handlers' TEXT forms).
    // Parameters are added to the command directly: Dapper's per-parameter name check is a linear
    // scan on some providers, quadratic over thousands of parameters. Every parameter is typed, so a
    // NULL is never sent untyped (SQL Server refuses an nvarchar NULL for a VARBINARY column).
    private async Task InsertEntriesMultiRowAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<AuditRow> entries)
    {
        foreach (var chunk in entries.Chunk(db.Dialect.RowsPerInsert(EntryInsertColumns.Length)))
        {
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = SqlDialect.MultiRowInsert("audit_log", EntryInsertColumns, chunk.Length);
            for (var i = 0; i < chunk.Length; i++)
            {
                var e = chunk[i];
                Add(command, $"seq_{i}", DbType.Int64, e.Sequence);
                // Npgsql writes timestamptz only from UTC values; SQL Server keeps the offset either way.
                Add(command, $"time_{i}", DbType.DateTimeOffset, e.Time.ToUniversalTime());
                Add(command, $"kind_{i}", DbType.String, e.Kind);
                Add(command, $"actor_{i}", DbType.String, e.Actor);
                Add(command, $"subject_ref_{i}", DbType.String, e.SubjectRef);
                Add(command, $"purpose_{i}", DbType.String, e.Purpose);
                Add(command, $"grant_id_{i}", DbType.Guid, e.GrantId);
                Add(command, $"policy_hash_{i}", DbType.String, e.PolicyHash);
                Add(command, $"payload_{i}", DbType.String, e.Payload);
                Add(command, $"sealed_{i}", DbType.Binary, e.Sealed);
                Add(command, $"leaf_hash_{i}", DbType.Binary, e.LeafHash);
            }
            await command.ExecuteNonQueryAsync();
        }
    }

    private async Task InsertNodesMultiRowAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<NodeRow> nodes)
    {
        foreach (var chunk in nodes.Chunk(db.Dialect.RowsPerInsert(NodeInsertColumns.Length)))
        {
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = SqlDialect.MultiRowInsert("audit_tree_nodes", NodeInsertColumns, chunk.Length);
            for (var i = 0; i < chunk.Length; i++)
            {
                Add(command, $"level_{i}", DbType.Int32, chunk[i].Level);
                Add(command, $"idx_{i}", DbType.Int64, chunk[i].Index);
                Add(command, $"hash_{i}", DbType.Binary, chunk[i].Hash);
            }
            await command.ExecuteNonQueryAsync();
        }
    }

    private static void Add(DbCommand command, string name, DbType type, object? value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.DbType = type;
        parameter.Value = value ?? DBNull.Value;
        command.Parameters.Add(parameter);
    }

    public async Task<CompactRange> CurrentFrontierAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var row = await ReadFrontierAsync(connection, null, forUpdate: false);
        return CompactRange.FromBytes(row.Size, row.Hashes);
    }

    /// <summary>Entries in [<paramref name="from"/>, <paramref name="to"/>) matching the optional filters, in sequence order.</summary>
    public async Task<IReadOnlyList<AuditRow>> EntriesAsync(
        long from, long to, int limit, string? kind = null, string? subjectRef = null, CancellationToken cancellationToken = default)
    {
        var sql = $"SELECT {EntryColumns} FROM audit_log WHERE seq >= @from AND seq < @to" +
            (kind is null ? "" : " AND kind = @kind") +
            (subjectRef is null ? "" : " AND subject_ref = @subjectRef") +
            " ORDER BY seq" + db.Dialect.Limit("limit");
        await using var connection = await db.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<AuditRow>(
            new CommandDefinition(sql, new { from, to, kind, subjectRef, limit }, cancellationToken: cancellationToken));
        return rows.AsList();
    }

    public async Task<AuditRow?> EntryAsync(long sequence, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<AuditRow>(
            new CommandDefinition($"SELECT {EntryColumns} FROM audit_log WHERE seq = @sequence", new { sequence }, cancellationToken: cancellationToken));
    }

    /// <summary>Perfect subtree hashes for proofs: level 0 from the log's leaf hashes, higher levels from the node table.</summary>
    public async Task<Dictionary<(int Level, long Index), byte[]>> NodesAsync(
        IEnumerable<(int Level, long Index)> wanted, CancellationToken cancellationToken = default)
    {
        var result = new Dictionary<(int, long), byte[]>();
        await using var connection = await db.OpenAsync(cancellationToken);
        foreach (var group in wanted.Distinct().GroupBy(w => w.Level))
        {
            foreach (var chunk in group.Select(w => w.Index).Chunk(500))
            {
                var rows = group.Key == 0
                    ? await connection.QueryAsync<(long Index, byte[] Hash)>(new CommandDefinition(
                        $"SELECT seq, leaf_hash FROM audit_log WHERE {db.Dialect.InList("seq", "ids")}", new { ids = chunk }, cancellationToken: cancellationToken))
                    : await connection.QueryAsync<(long Index, byte[] Hash)>(new CommandDefinition(
                        $"SELECT idx, hash FROM audit_tree_nodes WHERE level = @level AND {db.Dialect.InList("idx", "ids")}", new { level = group.Key, ids = chunk }, cancellationToken: cancellationToken));
                foreach (var (index, hash) in rows)
                {
                    result[(group.Key, index)] = hash;
                }
            }
        }
        return result;
    }

    public async Task<CheckpointRow?> LatestCheckpointAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<CheckpointRow>(new CommandDefinition(
            $"SELECT {CheckpointColumns} FROM audit_checkpoints ORDER BY tree_size DESC" + db.Dialect.Limit("one"),
            new { one = 1 }, cancellationToken: cancellationToken));
    }

    /// <summary>The first checkpoint covering <paramref name="sequence"/> (tree size greater than it).</summary>
    public async Task<CheckpointRow?> CheckpointCoveringAsync(long sequence, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<CheckpointRow>(new CommandDefinition(
            $"SELECT {CheckpointColumns} FROM audit_checkpoints WHERE tree_size > @sequence ORDER BY tree_size" + db.Dialect.Limit("one"),
            new { sequence, one = 1 }, cancellationToken: cancellationToken));
    }

    public async Task<CheckpointRow?> CheckpointAsync(long treeSize, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<CheckpointRow>(new CommandDefinition(
            $"SELECT {CheckpointColumns} FROM audit_checkpoints WHERE tree_size = @treeSize", new { treeSize }, cancellationToken: cancellationToken));
    }

    /// <summary>Checkpoints with tree size in [<paramref name="fromSize"/>, <paramref name="toSize"/>], ascending.</summary>
    public async Task<IReadOnlyList<CheckpointRow>> CheckpointsAsync(long fromSize, long toSize, int limit, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<CheckpointRow>(new CommandDefinition(
            $"SELECT {CheckpointColumns} FROM audit_checkpoints WHERE tree_size >= @fromSize AND tree_size <= @toSize ORDER BY tree_size" + db.Dialect.Limit("limit"),
            new { fromSize, toSize, limit }, cancellationToken: cancellationToken));
        return rows.AsList();
    }

    /// <summary>Stores a checkpoint; false if one for that size already exists (the job may run twice).</summary>
    public async Task<bool> AddCheckpointAsync(CheckpointRow checkpoint, CancellationToken cancellationToken = default)
    {
        var sql = db.Dialect.InsertIgnoringDuplicates(
            "audit_checkpoints", ["tree_size", "root_hash", "created_at", "key_name", "note"], ["tree_size"]);
        await using var connection = await db.OpenAsync(cancellationToken);
        var inserted = await connection.ExecuteAsync(new CommandDefinition(sql, new
        {
            tree_size = checkpoint.TreeSize,
            root_hash = checkpoint.RootHash,
            created_at = checkpoint.CreatedAt,
            key_name = checkpoint.KeyName,
            note = checkpoint.Note,
        }, cancellationToken: cancellationToken));
        return inserted == 1;
    }

    /// <summary>
    /// Stored interior subtrees (level ≥ 1) in the given index ranges, one range per level, in one
    /// query: the checkpoint signer compares them with the subtrees it computed itself.
    /// </summary>
    public async Task<Dictionary<(int Level, long Index), byte[]>> NodesInRangesAsync(
        IReadOnlyList<(int Level, long FromIndex, long ToIndex)> ranges, CancellationToken cancellationToken = default)
    {
        var result = new Dictionary<(int, long), byte[]>();
        if (ranges.Count == 0)
        {
            return result;
        }
        var parameters = new DynamicParameters();
        var terms = new List<string>(ranges.Count);
        for (var i = 0; i < ranges.Count; i++)
        {
            terms.Add($"(level = @l{i} AND idx >= @a{i} AND idx <= @b{i})");
            parameters.Add($"l{i}", ranges[i].Level);
            parameters.Add($"a{i}", ranges[i].FromIndex);
            parameters.Add($"b{i}", ranges[i].ToIndex);
        }
        await using var connection = await db.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<StoredNode>(new CommandDefinition(
            $"SELECT level, idx, hash FROM audit_tree_nodes WHERE {string.Join(" OR ", terms)}",
            parameters, cancellationToken: cancellationToken));
        foreach (var row in rows)
        {
            result[((int)row.Level, row.Idx)] = row.Hash;
        }
        return result;
    }

    /// <summary>Checkpoints with tree size at most <paramref name="maxSize"/>, newest first.</summary>
    public async Task<IReadOnlyList<CheckpointRow>> CheckpointsDescendingAsync(long maxSize, int limit, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<CheckpointRow>(new CommandDefinition(
            $"SELECT {CheckpointColumns} FROM audit_checkpoints WHERE tree_size <= @maxSize ORDER BY tree_size DESC" + db.Dialect.Limit("limit"),
            new { maxSize, limit }, cancellationToken: cancellationToken));
        return rows.AsList();
    }

    private sealed class StoredNode
    {
        public long Level { get; init; }

        public long Idx { get; init; }

        public byte[] Hash { get; init; } = [];
    }

    // ---- residents' audit pseudonyms ----

    /// <summary>The pseudonyms the log uses for <paramref name="residents"/>, for those who have one.</summary>
    internal static async Task<Dictionary<Guid, string>> PseudonymsAsync(DbSession s, IReadOnlyCollection<Guid> residents)
    {
        var found = new Dictionary<Guid, string>(residents.Count);
        foreach (var chunk in residents.Chunk(500))
        {
            var rows = await s.QueryAsync<PseudonymRow>(
                $"SELECT resident_id, pseudonym FROM resident_audit_pseudonyms WHERE {s.Dialect.InList("resident_id", "ids")}",
                new { ids = chunk });
            foreach (var row in rows)
            {
                found[row.ResidentId] = row.Pseudonym;
            }
        }
        return found;
    }

    internal static async Task InsertPseudonymsAsync(DbSession s, IReadOnlyList<(Guid Resident, string Pseudonym)> created, DateTimeOffset now)
    {
        foreach (var (resident, pseudonym) in created)
        {
            await s.ExecuteAsync(
                "INSERT INTO resident_audit_pseudonyms (resident_id, pseudonym, created_at) VALUES (@resident, @pseudonym, @now)",
                new { resident, pseudonym, now });
        }
    }

    internal static async Task DeletePseudonymsAsync(DbSession s, IReadOnlyCollection<Guid> residents)
    {
        foreach (var chunk in residents.Chunk(500))
        {
            await s.ExecuteAsync($"DELETE FROM resident_audit_pseudonyms WHERE {s.Dialect.InList("resident_id", "ids")}", new { ids = chunk });
        }
    }

    /// <summary>The resident's audit pseudonym, or null when they have none (never in the log, or erased).</summary>
    public Task<string?> PseudonymOfAsync(Guid residentId, CancellationToken cancellationToken = default) =>
        db.ReadAsync(s => s.QuerySingleOrDefaultAsync<string>(
            "SELECT pseudonym FROM resident_audit_pseudonyms WHERE resident_id = @residentId", new { residentId }, cancellationToken), cancellationToken);

    private sealed class PseudonymRow
    {
        public Guid ResidentId { get; init; }

        public string Pseudonym { get; init; } = "";
    }
}

internal sealed class FrontierRow
{
    public long Size { get; init; }

    public DateTimeOffset? LastTime { get; init; }

    public byte[] Hashes { get; init; } = [];
}

internal sealed record NodeRow(int Level, long Index, byte[] Hash);

/// <summary>An audit_log row.</summary>
public sealed class AuditRow
{
    public long Sequence { get; init; }

    public DateTimeOffset Time { get; init; }

    public string Kind { get; init; } = "";

    public string Actor { get; init; } = "";

    public string? SubjectRef { get; init; }

    public string? Purpose { get; init; }

    public Guid? GrantId { get; init; }

    public string? PolicyHash { get; init; }

    public string? Payload { get; init; }

    public byte[]? Sealed { get; init; }

    public byte[] LeafHash { get; init; } = [];

    public AuditEntry ToEntry() => new(Sequence, Time, Kind, Actor, SubjectRef, Purpose, GrantId, PolicyHash, Payload, Sealed);
}

/// <summary>An audit_checkpoints row: the signed note text and the fields it states.</summary>
public sealed class CheckpointRow
{
    public long TreeSize { get; init; }

    public byte[] RootHash { get; init; } = [];

    public DateTimeOffset CreatedAt { get; init; }

    public string KeyName { get; init; } = "";

    public string Note { get; init; } = "";
}
