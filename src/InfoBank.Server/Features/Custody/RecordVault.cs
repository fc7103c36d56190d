using System.Buffers.Binary;
using System.Data;
using System.Data.Common;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using InfoBank.Core.Custody;
using InfoBank.Server.Infrastructure.Db;

namespace InfoBank.Server.Features.Custody;

/// <summary>A record ready to store: its plaintext payload is sealed by the vault, never by the caller.</summary>
public sealed record NewRecord(Guid ResidentId, string Category, DateTimeOffset ObservedAt, string SourceRecordId, byte[] Payload);

/// <summary>
/// Records sealed by <see cref="RecordVault.SealAsync"/>, ready for <see cref="RecordVault.InsertAsync"/>:
/// each record's new id and ciphertext, and the key version each resident's records were sealed with.
/// </summary>
public sealed record SealedBatch(
    string SourceClientId, IReadOnlyList<NewRecord> Records, Guid[] Ids, byte[][] Ciphertexts, IReadOnlyDictionary<Guid, int> KeyVersions, DateTimeOffset StoredAt);

/// <summary>A record as a resident reads it back, decrypted, with the moment its category's retention ends for it.</summary>
public sealed record OpenedRecord(Guid Id, string Category, DateTimeOffset ObservedAt, DateTimeOffset StoredAt, string Source, string SourceRecordId, byte[] Payload, DateTimeOffset ExpiresAt,
    RecordIntegrity Integrity = RecordIntegrity.Intact);

/// <summary>
/// Whether a stored record opened. <see cref="Failed"/>: its ciphertext, its associated data or the
/// resident's wrapped key did not authenticate (corruption or tampering); its payload is empty and it
/// is never served as data, only shown to its resident as withheld.
/// </summary>
public enum RecordIntegrity
{
    Intact,
    Failed,
}

/// <summary>Filters and keyset position for reading a resident's records in (observedAt, id) order.</summary>
public sealed record RecordQuery(string? Category, DateTimeOffset? From, DateTimeOffset? To, DateTimeOffset? AfterObservedAt, Guid? AfterId, int Limit);

/// <summary>
/// The custody records table. Payloads go in as plaintext and come out as plaintext: sealing and
/// opening happen here, so ciphertext never leaves this class and plaintext never reaches the
/// database. Every read joins the resident's key rows, so a shredded resident's rows are invisible
/// even before the sweep removes them, and keeps only records inside their category's retention, so
/// an expired record is gone from every read the moment it expires, not when the retention job runs.
/// </summary>
public sealed partial class RecordVault(DbConnectionFactory db, ResidentKeyRing keys, DataInventory inventory, TimeProvider time, ILogger<RecordVault> logger)
{
    private const string SelectRecords = """
        SELECT r.id, r.resident_id, r.category, r.observed_at,
               r.stored_at, r.source_client_id AS Source, r.source_record_id,
               r.key_version, r.ciphertext
        FROM custody_records r
        JOIN resident_keys k ON k.resident_id = r.resident_id AND k.version = r.key_version
        WHERE r.resident_id = @residentId
        """;

    private const string SelectOne = """
        SELECT r.id, r.resident_id, r.category, r.observed_at,
               r.stored_at, r.source_client_id AS Source, r.source_record_id,
               r.key_version, r.ciphertext
        FROM custody_records r WHERE r.resident_id = @residentId AND r.observed_at = @observedAt AND r.id = @id
        """;

    private const string SelectStale = """
        SELECT r.id, r.resident_id, r.category, r.observed_at,
               r.stored_at, r.source_client_id AS Source, r.source_record_id,
               r.key_version, r.ciphertext
        FROM custody_records r
        WHERE r.resident_id = @residentId AND r.key_version < @activeVersion
        ORDER BY r.observed_at, r.id
        """;

    private const string Reseal = """
        UPDATE custody_records SET ciphertext = @ciphertext, key_version = @newVersion
        WHERE resident_id = @residentId AND observed_at = @observedAt AND id = @id AND key_version = @oldVersion
        """;

    private const string CountByResident = "SELECT COUNT(*) FROM custody_records WHERE resident_id = @residentId";

    private const string ErasedWhere = "resident_id = @residentId AND key_version <= @upToKeyVersion";

    // The retention job's batches walk the (category, observed_at) index (migration 2026-12-02_02).
    private const string ExpiredWhere = "category = @category AND observed_at < @keptFrom";

    private const string CountExpired = "SELECT COUNT(*) FROM custody_records WHERE " + ExpiredWhere;

    private static readonly string[] InsertColumns =
        ["id", "resident_id", "category", "observed_at", "source_record_id", "key_version", "ciphertext", "stored_at", "source_client_id"];

    // The first seven columns get a parameter per row; the last two are the same for the whole batch.
    private const int PerRowColumns = 7;

    private static readonly DbType[] InsertTypes =
        [DbType.Guid, DbType.Guid, DbType.String, DbType.DateTimeOffset, DbType.String, DbType.Int32, DbType.Binary, DbType.DateTimeOffset, DbType.String];

    // Rows per INSERT statement on the server databases: enough that round trips stop mattering,
    // lowered to the dialect's parameter limit where that is smaller (SQL Server). SQLite runs
    // in-process, so one prepared single-row statement is fastest there: it looks each parameter up
    // by a linear scan, which makes binding a many-row statement quadratic (measured: 1 row per
    // statement beat 8 and 32 by a third), and without RETURNING, whose result rows cost more than
    // the rows-affected count that tells a stored row from a duplicate just as well.
    private const int RowsPerStatement = 100;

    // The random part of a version-7 id: 74 bits, drawn as 10 bytes.
    private const int RandomIdBytes = 10;

    /// <summary>
    /// Seals records for <see cref="InsertAsync"/>, outside any transaction: it loads each resident's
    /// active data key (which may unwrap through DataProtection) and encrypts every payload. Throws
    /// <see cref="ResidentKeyMissingException"/> when a resident has no key (not enrolled, erased).
    /// </summary>
    public async Task<SealedBatch> SealAsync(string sourceClientId, IReadOnlyList<NewRecord> records, CancellationToken cancellationToken)
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
        // One draw from the generator for the whole batch (each record's nonce and the random bits of
        // its id): a call per record cost more than the AES-GCM encryption itself.
        const int stride = RecordSeal.NonceSize + RandomIdBytes;
        var random = RandomNumberGenerator.GetBytes(records.Count * stride);
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
                var draw = random.AsSpan(i * stride, stride);
                ids[i] = NewRecordId(now, draw[RecordSeal.NonceSize..]);
                sealedValues[i] = RecordSeal.Seal(aes, new RecordBinding(record.ResidentId, ids[i], record.Category, key.Version), draw[..RecordSeal.NonceSize], record.Payload);
            }
        }
        finally
        {
            foreach (var aes in ciphers.Values)
            {
                aes.Dispose();
            }
        }
        return new SealedBatch(sourceClientId, records, ids, sealedValues, residentKeys.ToDictionary(k => k.Key, k => k.Value.Version), now);
    }

    /// <summary>
    /// Stores a sealed batch in the caller's transaction, skipping any record whose (source, source
    /// record id) is already stored. Returns, per record, its new id, or null when it was a duplicate.
    /// First checks, in the same transaction, that every key the batch was sealed with still exists:
    /// a resident erased (or re-keyed) since <see cref="SealAsync"/> fails the whole batch with
    /// <see cref="ResidentKeyMissingException"/>, so no row is ever stored under a destroyed key (the
    /// erasure's sweep would never find it). Erasure and deposits both commit through the audit log,
    /// whose transaction serialises them.
    /// </summary>
    public async Task<Guid?[]> InsertAsync(DbSession s, SealedBatch batch, CancellationToken cancellationToken)
    {
        await EnsureKeysPresentAsync(s, batch, cancellationToken);
        var inserted = await InsertRowsAsync(s, batch, cancellationToken);
        var result = new Guid?[batch.Records.Count];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = inserted.Contains(batch.Ids[i]) ? batch.Ids[i] : null;
        }
        return result;
    }

    private static async Task EnsureKeysPresentAsync(DbSession s, SealedBatch batch, CancellationToken cancellationToken)
    {
        foreach (var chunk in batch.KeyVersions.Chunk(500))
        {
            var residents = chunk.Select(k => k.Key).ToArray();
            var present = (await s.QueryAsync<KeyVersionRow>(
                $"SELECT resident_id, version FROM resident_keys WHERE {s.Dialect.InList("resident_id", "residents")}", new { residents }, cancellationToken))
                .Select(k => (k.ResidentId, k.Version)).ToHashSet();
            foreach (var (residentId, version) in chunk)
            {
                if (!present.Contains((residentId, version)))
                {
                    throw new ResidentKeyMissingException(residentId);
                }
            }
        }
    }

    // The ids of the rows actually inserted (duplicates are skipped by the INSERT itself). Full chunks
    // share one prepared command; the last, shorter chunk gets its own.
    private static async Task<HashSet<Guid>> InsertRowsAsync(DbSession s, SealedBatch batch, CancellationToken cancellationToken)
    {
        var records = batch.Records;
        var inserted = new HashSet<Guid>(records.Count);
        var perStatement = s.Dialect.InsertsRowByRow
            ? 1
            : Math.Min(RowsPerStatement, (s.Dialect.MaxParameters - (InsertColumns.Length - PerRowColumns)) / PerRowColumns);
        DbCommand? fullChunk = null;
        try
        {
            for (var start = 0; start < records.Count; start += perStatement)
            {
                var count = Math.Min(perStatement, records.Count - start);
                var reuse = count == perStatement;
                var command = reuse && fullChunk is not null ? fullChunk : InsertCommand(s, count, batch.StoredAt, batch.SourceClientId, returning: perStatement > 1);
                SetRowValues(command, batch, start, count);
                if (reuse && fullChunk is null)
                {
                    // Prepared once its values are set (Npgsql infers nothing from empty parameters), then reused.
                    fullChunk = command;
                    await command.PrepareAsync(cancellationToken);
                }
                try
                {
                    await ExecuteChunkAsync(command, returning: perStatement > 1, batch.Ids[start], inserted, cancellationToken);
                }
                finally
                {
                    if (command != fullChunk)
                    {
                        await command.DisposeAsync();
                    }
                }
            }
        }
        finally
        {
            if (fullChunk is not null)
            {
                await fullChunk.DisposeAsync();
            }
        }
        return inserted;
    }

    // Records start … start + count - 1 into the per-row parameters, in InsertColumns order.
    private static void SetRowValues(DbCommand command, SealedBatch batch, int start, int count)
    {
        var parameters = command.Parameters;
        for (var row = 0; row < count; row++)
        {
            var i = start + row;
            var record = batch.Records[i];
            var at = row * PerRowColumns;
            parameters[at].Value = batch.Ids[i];
            parameters[at + 1].Value = record.ResidentId;
            parameters[at + 2].Value = record.Category;
            parameters[at + 3].Value = record.ObservedAt;
            parameters[at + 4].Value = record.SourceRecordId;
            parameters[at + 5].Value = batch.KeyVersions[record.ResidentId];
            parameters[at + 6].Value = batch.Ciphertexts[i];
        }
    }

    // A single-row INSERT tells by its count whether the row went in; a multi-row one returns the ids it inserted.
    private static async Task ExecuteChunkAsync(DbCommand command, bool returning, Guid firstId, HashSet<Guid> inserted, CancellationToken cancellationToken)
    {
        if (!returning)
        {
            if (await command.ExecuteNonQueryAsync(cancellationToken) == 1)
            {
                inserted.Add(firstId);
            }
            return;
        }
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            inserted.Add(reader.GetGuid(0));
        }
    }

    // One INSERT of `rows` rows: a parameter per row and column, then the two the rows share. The
    // parameter types are the ones Dapper gives the same CLR types elsewhere, so every store reads
    // these rows alike.
    private static DbCommand InsertCommand(DbSession s, int rows, DateTimeOffset now, string sourceClientId, bool returning)
    {
        var command = s.CreateCommand();
        var tuples = new List<IReadOnlyList<string>>(rows);
        for (var row = 0; row < rows; row++)
        {
            var tuple = new string[InsertColumns.Length];
            for (var column = 0; column < InsertColumns.Length; column++)
            {
                tuple[column] = column < PerRowColumns ? $"@p{row}_{column}" : "@" + InsertColumns[column];
                if (column < PerRowColumns)
                {
                    Add(command, tuple[column], InsertTypes[column], null);
                }
            }
            tuples.Add(tuple);
        }
        Add(command, "@stored_at", DbType.DateTimeOffset, now);
        Add(command, "@source_client_id", DbType.String, sourceClientId);
        command.CommandText = s.Dialect.InsertManyIgnoringDuplicates("custody_records", InsertColumns, tuples, ["source_client_id", "source_record_id"], returning ? "id" : null);
        return command;

        static void Add(DbCommand command, string name, DbType type, object? value)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.DbType = type;
            parameter.Value = value;
            command.Parameters.Add(parameter);
        }
    }

    // RFC 9562 version 7: 48-bit Unix milliseconds, then random bits under the version and variant.
    private static Guid NewRecordId(DateTimeOffset now, ReadOnlySpan<byte> random)
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteInt64BigEndian(bytes[..8], now.ToUnixTimeMilliseconds() << 16);
        random[..RandomIdBytes].CopyTo(bytes[6..]);
        bytes[6] = (byte)(0x70 | (bytes[6] & 0x0F));
        bytes[8] = (byte)(0x80 | (bytes[8] & 0x3F));
        return new Guid(bytes, bigEndian: true);
    }

    /// <summary>One page of the resident's records inside retention, decrypted, in (observedAt, id) order.</summary>
    public async Task<IReadOnlyList<OpenedRecord>> ListAsync(Guid residentId, RecordQuery query, CancellationToken cancellationToken)
    {
        if (query.Category is not null && inventory.Find(query.Category) is null)
        {
            // A category the inventory does not list has no retention, so nothing of it is kept.
            return [];
        }
        var sql = new StringBuilder(SelectRecords);
        var parameters = new DynamicParameters(new
        {
            residentId,
            category = query.Category,
            from = query.From,
            to = query.To,
            afterObservedAt = query.AfterObservedAt,
            afterId = query.AfterId,
            limit = query.Limit,
        });
        AppendRetention(sql, parameters, query.Category, time.GetUtcNow());
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
            rows = (await connection.QueryAsync<RecordRow>(new CommandDefinition(sql.ToString(), parameters, cancellationToken: cancellationToken))).ToList();
        }
        var opened = new List<OpenedRecord>(rows.Count);
        // All rows are one resident's: once their key will not unwrap (which takes a few seconds of
        // waiting for a reloaded key ring), the rest of the page is withheld without trying again.
        var keyUnusable = false;
        foreach (var row in rows)
        {
            OpenedRecord? record;
            if (keyUnusable)
            {
                LogIntegrityFailure(logger, row.Id, row.Category);
                record = Withheld(row);
            }
            else
            {
                (record, keyUnusable) = await OpenAsync(row, cancellationToken);
            }
            if (record is not null)
            {
                opened.Add(record);
            }
        }
        return opened;
    }

    // Each category's own cut-off, in the query itself: one category is one range condition on the
    // resident's (observed_at) order; all of them are one alternative per category of the inventory,
    // so a category it no longer lists is never read.
    private void AppendRetention(StringBuilder sql, DynamicParameters parameters, string? category, DateTimeOffset now)
    {
        if (category is not null)
        {
            sql.Append(" AND r.category = @category AND r.observed_at >= @keptFrom");
            parameters.Add("keptFrom", inventory.Find(category)!.KeptFrom(now));
            return;
        }
        sql.Append(" AND (");
        var i = 0;
        foreach (var kept in inventory.Categories.Values)
        {
            sql.Append(i == 0 ? "" : " OR ").Append(CultureInfo.InvariantCulture, $"(r.category = @kc{i} AND r.observed_at >= @kf{i})");
            parameters.Add($"kc{i}", kept.Name);
            parameters.Add($"kf{i}", kept.KeptFrom(now));
            i++;
        }
        sql.Append(')');
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
            updates.Add(new { residentId, observedAt = row.ObservedAt, id = row.Id, ciphertext = resealed, newVersion = active.Version, oldVersion = row.KeyVersion });
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
        return await connection.ExecuteAsync(new CommandDefinition(
            db.Dialect.DeleteBatch("custody_records", ErasedWhere, "batch"), new { residentId, upToKeyVersion, batch }, cancellationToken: cancellationToken));
    }

    /// <summary>How many records of <paramref name="category"/> were observed before <paramref name="keptFrom"/> (past retention, not yet deleted).</summary>
    public async Task<long> CountExpiredAsync(string category, DateTimeOffset keptFrom, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition(CountExpired, new { category, keptFrom }, cancellationToken: cancellationToken));
    }

    /// <summary>
    /// Deletes up to <paramref name="batch"/> records of <paramref name="category"/> observed before
    /// <paramref name="keptFrom"/>, in a transaction of its own; returns how many (0 when none are left).
    /// </summary>
    public async Task<int> DeleteExpiredBatchAsync(string category, DateTimeOffset keptFrom, int batch, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition(
            db.Dialect.DeleteBatch("custody_records", ExpiredWhere, "batch"), new { category, keptFrom, batch }, cancellationToken: cancellationToken));
    }

    public async Task<long> CountAsync(Guid residentId, CancellationToken cancellationToken)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition(CountByResident, new { residentId }, cancellationToken: cancellationToken));
    }

    // A key version can be retired between our SELECT and the key lookup (rotation finishing while we
    // read); the row has then been re-sealed, so read it again once under its new version.
    private async Task<(OpenedRecord? Record, bool KeyUnusable)> OpenAsync(RecordRow row, CancellationToken cancellationToken)
    {
        try
        {
            return (await TryOpenAsync(row, cancellationToken), false);
        }
        catch (CryptographicException e)
        {
            // AES-GCM (or the key's unwrapping) refused: the stored bytes are not what was sealed. The
            // record is kept, so the operator can investigate, but it never leaves as data; its resident
            // sees it as withheld. The record id is a random key, not personal data.
            LogIntegrityFailure(logger, row.Id, row.Category);
            return (Withheld(row), e is UnusableKeyException);
        }
    }

    private OpenedRecord Withheld(RecordRow row) =>
        new(row.Id, row.Category, row.ObservedAt, row.StoredAt, row.Source, row.SourceRecordId, [],
            inventory.Find(row.Category)?.ExpiresAt(row.ObservedAt) ?? row.ObservedAt, RecordIntegrity.Failed);

    /// <summary>The resident's data key could not be unwrapped (as opposed to one record not opening).</summary>
    private sealed class UnusableKeyException(CryptographicException inner) : CryptographicException(inner.Message, inner);

    private async Task<byte[]?> KeyAsync(Guid residentId, int version, CancellationToken cancellationToken)
    {
        try
        {
            return await keys.GetAsync(residentId, version, cancellationToken);
        }
        catch (CryptographicException e)
        {
            throw new UnusableKeyException(e);
        }
    }

    [LoggerMessage(EventId = 4101, Level = LogLevel.Error,
        Message = "Custody record {RecordId} ({Category}) failed its integrity check: its ciphertext or its resident's wrapped key does not authenticate; it is withheld")]
    private static partial void LogIntegrityFailure(ILogger logger, Guid recordId, string category);

    private async Task<OpenedRecord?> TryOpenAsync(RecordRow row, CancellationToken cancellationToken)
    {
        var key = await KeyAsync(row.ResidentId, row.KeyVersion, cancellationToken);
        if (key is null)
        {
            keys.Forget(row.ResidentId);
            await using var connection = await db.OpenAsync(cancellationToken);
            var fresh = await connection.QuerySingleOrDefaultAsync<RecordRow>(new CommandDefinition(
                SelectOne, new { residentId = row.ResidentId, observedAt = row.ObservedAt, id = row.Id }, cancellationToken: cancellationToken));
            if (fresh is null)
            {
                return null;
            }
            key = await KeyAsync(fresh.ResidentId, fresh.KeyVersion, cancellationToken);
            if (key is null)
            {
                return null;
            }
            row = fresh;
        }
        var payload = RecordSeal.Open(key, row.Binding, row.Ciphertext);
        var expiresAt = inventory.Find(row.Category)?.ExpiresAt(row.ObservedAt) ?? row.ObservedAt;
        return new OpenedRecord(row.Id, row.Category, row.ObservedAt, row.StoredAt, row.Source, row.SourceRecordId, payload, expiresAt);
    }

    private sealed class KeyVersionRow
    {
        public Guid ResidentId { get; init; }

        public int Version { get; init; }
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
