using System.Data;
using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using InfoBank.Core.Custody;
using InfoBank.Server.Infrastructure.Db;

namespace InfoBank.Server.Features.Custody;

/// <summary>A record ready to store: its plaintext payload is sealed by the vault, never by the caller.</summary>
public sealed record NewRecord(Guid ResidentId, string Category, DateTimeOffset ObservedAt, string SourceRecordId, byte[] Payload);

/// <summary>A record as a resident reads it back, decrypted.</summary>
public sealed record OpenedRecord(Guid Id, string Category, DateTimeOffset ObservedAt, DateTimeOffset StoredAt, string Source, string SourceRecordId, byte[] Payload);

/// <summary>Filters and keyset position for reading a resident's records in (observedAt, id) order.</summary>
public sealed record RecordQuery(string? Category, DateTimeOffset? From, DateTimeOffset? To, DateTimeOffset? AfterObservedAt, Guid? AfterId, int Limit);

/// <summary>
/// The custody records table. Payloads go in as plaintext and come out as plaintext: sealing and
/// opening happen here, so ciphertext never leaves this class and plaintext never reaches the
/// database. Every read joins the resident's key rows, so a shredded resident's rows are invisible
/// even before the sweep removes them.
/// </summary>
public sealed class RecordVault(DbConnectionFactory db, ResidentKeyRing keys, TimeProvider time)
{
    private const string SelectRecords = """
        SELECT r.id AS Id, r.resident_id AS ResidentId, r.category AS Category, r.observed_at AS ObservedAt,
               r.stored_at AS StoredAt, r.source_client_id AS Source, r.source_record_id AS SourceRecordId,
               r.key_version AS KeyVersion, r.ciphertext AS Ciphertext
        FROM custody_records r
        JOIN resident_keys k ON k.resident_id = r.resident_id AND k.version = r.key_version
        WHERE r.resident_id = @residentId
        """;

    private const string SelectOne = """
        SELECT r.id AS Id, r.resident_id AS ResidentId, r.category AS Category, r.observed_at AS ObservedAt,
               r.stored_at AS StoredAt, r.source_client_id AS Source, r.source_record_id AS SourceRecordId,
               r.key_version AS KeyVersion, r.ciphertext AS Ciphertext
        FROM custody_records r WHERE r.id = @id
        """;

    private const string SelectStale = """
        SELECT r.id AS Id, r.resident_id AS ResidentId, r.category AS Category, r.observed_at AS ObservedAt,
               r.stored_at AS StoredAt, r.source_client_id AS Source, r.source_record_id AS SourceRecordId,
               r.key_version AS KeyVersion, r.ciphertext AS Ciphertext
        FROM custody_records r
        WHERE r.resident_id = @residentId AND r.key_version < @activeVersion
        ORDER BY r.id
        """;

    private const string Reseal = """
        UPDATE custody_records SET ciphertext = @ciphertext, key_version = @newVersion
        WHERE id = @id AND key_version = @oldVersion
        """;

    private const string CountByResident = "SELECT COUNT(*) FROM custody_records WHERE resident_id = @residentId";

    private const string SweepStandard = """
        DELETE FROM custody_records WHERE id IN (
            SELECT id FROM custody_records WHERE resident_id = @residentId AND key_version <= @upToKeyVersion LIMIT @batch)
        """;

    private const string SweepSqlServer = """
        DELETE TOP (@batch) FROM custody_records WHERE resident_id = @residentId AND key_version <= @upToKeyVersion
        """;

    private static readonly string[] InsertColumns =
        ["id", "resident_id", "category", "observed_at", "stored_at", "source_client_id", "source_record_id", "key_version", "ciphertext"];

    /// <summary>
    /// Seals and stores records in one transaction, skipping any whose (source, source record id)
    /// is already stored. Returns, per record, its new id, or null when it was a duplicate. Durable on
    /// return (the commit is synchronous). The caller has already checked that each resident is
    /// enrolled and linked; a resident with no key (erased meanwhile) fails the whole batch.
    /// </summary>
    public async Task<Guid?[]> InsertAsync(string sourceClientId, IReadOnlyList<NewRecord> records, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var residentKeys = new Dictionary<Guid, ResidentKey>();
        foreach (var residentId in records.Select(r => r.ResidentId).Distinct())
        {
            residentKeys[residentId] = await keys.GetActiveAsync(residentId, cancellationToken)
                ?? throw new ResidentKeyMissingException(residentId);
        }

        var ids = new Guid[records.Count];
        var sealedValues = new byte[records.Count][];
        var ciphers = new Dictionary<Guid, AesGcm>();
        try
        {
            for (var i = 0; i < records.Count; i++)
            {
                var record = records[i];
                var key = residentKeys[record.ResidentId];
                if (!ciphers.TryGetValue(record.ResidentId, out var aes))
                {
                    ciphers[record.ResidentId] = aes = new AesGcm(key.Key, RecordSeal.TagSize);
                }
                ids[i] = Guid.CreateVersion7(now);
                sealedValues[i] = RecordSeal.Seal(aes, new RecordBinding(record.ResidentId, ids[i], record.Category, key.Version), record.Payload);
            }
        }
        finally
        {
            foreach (var aes in ciphers.Values)
            {
                aes.Dispose();
            }
        }

        var result = new Guid?[records.Count];
        await using var connection = await db.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = db.Dialect.InsertIgnoringDuplicates("custody_records", InsertColumns, ["source_client_id", "source_record_id"]);
        // One prepared command for the whole batch. Parameter types are the ones Dapper gives the
        // same CLR types elsewhere (Guid, DateTimeOffset), so every store reads these rows alike.
        DbType[] types = [DbType.Guid, DbType.Guid, DbType.String, DbType.DateTimeOffset, DbType.DateTimeOffset, DbType.String, DbType.String, DbType.Int32, DbType.Binary];
        var parameters = InsertColumns.Select((name, i) =>
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = "@" + name;
            parameter.DbType = types[i];
            command.Parameters.Add(parameter);
            return parameter;
        }).ToArray();
        parameters[4].Value = now;
        parameters[5].Value = sourceClientId;
        for (var i = 0; i < records.Count; i++)
        {
            var record = records[i];
            parameters[0].Value = ids[i];
            parameters[1].Value = record.ResidentId;
            parameters[2].Value = record.Category;
            parameters[3].Value = record.ObservedAt;
            parameters[6].Value = record.SourceRecordId;
            parameters[7].Value = residentKeys[record.ResidentId].Version;
            parameters[8].Value = sealedValues[i];
            if (i == 0)
            {
                // Prepared once the first row's values are set (Npgsql infers nothing from empty parameters).
                await command.PrepareAsync(cancellationToken);
            }
            if (await command.ExecuteNonQueryAsync(cancellationToken) == 1)
            {
                result[i] = ids[i];
            }
        }
        await transaction.CommitAsync(cancellationToken);
        return result;
    }

    /// <summary>One page of the resident's records, decrypted, in (observedAt, id) order.</summary>
    public async Task<IReadOnlyList<OpenedRecord>> ListAsync(Guid residentId, RecordQuery query, CancellationToken cancellationToken)
    {
        var sql = new StringBuilder(SelectRecords);
        if (query.Category is not null)
        {
            sql.Append(" AND r.category = @category");
        }
        if (query.From is not null)
        {
            sql.Append(" AND r.observed_at >= @from");
        }
        if (query.To is not null)
        {
            sql.Append(" AND r.observed_at < @to");
        }
        if (query.AfterObservedAt is not null && query.AfterId is not null)
        {
            sql.Append(" AND (r.observed_at > @afterObservedAt OR (r.observed_at = @afterObservedAt AND r.id > @afterId))");
        }
        sql.Append(" ORDER BY r.observed_at, r.id").Append(db.Dialect.Limit("limit"));

        List<RecordRow> rows;
        await using (var connection = await db.OpenAsync(cancellationToken))
        {
            rows = (await connection.QueryAsync<RecordRow>(new CommandDefinition(sql.ToString(), new
            {
                residentId,
                category = query.Category,
                from = query.From,
                to = query.To,
                afterObservedAt = query.AfterObservedAt,
                afterId = query.AfterId,
                limit = query.Limit,
            }, cancellationToken: cancellationToken))).ToList();
        }
        var opened = new List<OpenedRecord>(rows.Count);
        foreach (var row in rows)
        {
            if (await OpenAsync(row, cancellationToken) is { } record)
            {
                opened.Add(record);
            }
        }
        return opened;
    }

    /// <summary>Every record of the resident, page by page (for the export); never holds more than one page.</summary>
    public async IAsyncEnumerable<OpenedRecord> ReadAllAsync(Guid residentId, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var query = new RecordQuery(null, null, null, null, null, 500);
        while (true)
        {
            var page = await ListAsync(residentId, query, cancellationToken);
            foreach (var record in page)
            {
                yield return record;
            }
            if (page.Count < query.Limit)
            {
                yield break;
            }
            query = query with { AfterObservedAt = page[^1].ObservedAt, AfterId = page[^1].Id };
        }
    }

    /// <summary>
    /// Re-seals up to <paramref name="batch"/> of the resident's records that are under an older key
    /// version with the active one. Returns how many it re-sealed (0 when none are left).
    /// </summary>
    public async Task<int> ResealBatchAsync(Guid residentId, int batch, CancellationToken cancellationToken)
    {
        var active = await keys.GetActiveAsync(residentId, cancellationToken);
        if (active is null)
        {
            return 0;
        }
        await using var connection = await db.OpenAsync(cancellationToken);
        var rows = (await connection.QueryAsync<RecordRow>(new CommandDefinition(
            SelectStale + db.Dialect.Limit("batch"), new { residentId, activeVersion = active.Version, batch }, cancellationToken: cancellationToken))).ToList();
        if (rows.Count == 0)
        {
            return 0;
        }
        var updates = new List<object>(rows.Count);
        foreach (var row in rows)
        {
            var oldKey = await keys.GetAsync(residentId, row.KeyVersion, cancellationToken)
                ?? throw new ResidentKeyMissingException(residentId);
            var plaintext = RecordSeal.Open(oldKey, row.Binding, row.Ciphertext);
            var resealed = RecordSeal.Seal(active.Key, row.Binding with { KeyVersion = active.Version }, plaintext);
            updates.Add(new { id = row.Id, ciphertext = resealed, newVersion = active.Version, oldVersion = row.KeyVersion });
        }
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(Reseal, updates, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        return rows.Count;
    }

    /// <summary>Deletes up to <paramref name="batch"/> rows of an erased resident; returns how many (0 when done).</summary>
    public async Task<int> SweepBatchAsync(Guid residentId, int upToKeyVersion, int batch, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        var sql = db.Provider == DatabaseProvider.SqlServer ? SweepSqlServer : SweepStandard;
        return await connection.ExecuteAsync(new CommandDefinition(sql, new { residentId, upToKeyVersion, batch }, cancellationToken: cancellationToken));
    }

    public async Task<long> CountAsync(Guid residentId, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition(CountByResident, new { residentId }, cancellationToken: cancellationToken));
    }

    // A key version can be retired between our SELECT and the key lookup (rotation finishing while we
    // read); the row has then been re-sealed, so read it again once under its new version.
    private async Task<OpenedRecord?> OpenAsync(RecordRow row, CancellationToken cancellationToken)
    {
        var key = await keys.GetAsync(row.ResidentId, row.KeyVersion, cancellationToken);
        if (key is null)
        {
            keys.Forget(row.ResidentId);
            await using var connection = await db.OpenAsync(cancellationToken);
            var fresh = await connection.QuerySingleOrDefaultAsync<RecordRow>(new CommandDefinition(SelectOne, new { id = row.Id }, cancellationToken: cancellationToken));
            if (fresh is null)
            {
                return null;
            }
            key = await keys.GetAsync(fresh.ResidentId, fresh.KeyVersion, cancellationToken);
            if (key is null)
            {
                return null;
            }
            row = fresh;
        }
        var payload = RecordSeal.Open(key, row.Binding, row.Ciphertext);
        return new OpenedRecord(row.Id, row.Category, row.ObservedAt, row.StoredAt, row.Source, row.SourceRecordId, payload);
    }

    private sealed class RecordRow
    {
        public Guid Id { get; init; }

        public Guid ResidentId { get; init; }

        public string Category { get; init; } = "";

        public DateTimeOffset ObservedAt { get; init; }

        public DateTimeOffset StoredAt { get; init; }

        public string Source { get; init; } = "";

        public string SourceRecordId { get; init; } = "";

        public int KeyVersion { get; init; }

        public byte[] Ciphertext { get; init; } = [];

        public RecordBinding Binding => new(ResidentId, Id, Category, KeyVersion);
    }
}

/// <summary>The resident has no data key: not enrolled, or erased while the request was in flight.</summary>
public sealed class ResidentKeyMissingException(Guid residentId)
    : InvalidOperationException("The resident has no data key (not enrolled, or erased).")
{
    public Guid ResidentId { get; } = residentId;
}
