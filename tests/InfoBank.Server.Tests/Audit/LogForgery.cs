using System.Collections.Concurrent;
using System.Data.Common;
using Dapper;
using InfoBank.Core.Audit;
using InfoBank.Server.Features.Audit;
using InfoBank.Server.Infrastructure.Db;
using Microsoft.Extensions.Logging;

namespace InfoBank.Server.Tests.Audit;

/// <summary>
/// What someone who can write the database (but not the key folder) does to rewrite the audit log,
/// in raw SQL: drop the append-only triggers, delete an entry, renumber and re-hash the rest, rebuild
/// the subtrees and the frontier so the database is self-consistent again, and delete the checkpoints
/// that would give it away.
/// </summary>
internal static class LogForgery
{
    private const string InsertEntry =
        "INSERT INTO audit_log (seq, time, kind, actor, subject_ref, purpose, grant_id, policy_hash, payload, sealed, leaf_hash) " +
        "VALUES (@Sequence, @Time, @Kind, @Actor, @SubjectRef, @Purpose, @GrantId, @PolicyHash, @Payload, @Sealed, @LeafHash)";

    public static async Task DropAppendOnlyTriggersAsync(DbConnectionFactory db)
    {
        await using var connection = await db.OpenAsync();
        var statements = db.Provider switch
        {
            DatabaseProvider.Sqlite => new[]
            {
                "audit_log_no_update", "audit_log_no_delete", "audit_tree_nodes_no_update", "audit_tree_nodes_no_delete",
                "audit_checkpoints_no_update", "audit_checkpoints_no_delete", "consent_events_no_update", "consent_events_no_delete",
            }.Select(t => $"DROP TRIGGER IF EXISTS {t}"),
            DatabaseProvider.Postgres => new[]
            {
                ("audit_log_append_only", "audit_log"), ("audit_tree_nodes_append_only", "audit_tree_nodes"),
                ("audit_checkpoints_append_only", "audit_checkpoints"), ("consent_events_no_change", "consent_events"),
            }.Select(t => $"DROP TRIGGER IF EXISTS {t.Item1} ON {t.Item2}"),
            _ => throw new NotSupportedException($"No forgery script for {db.Provider}."),
        };
        foreach (var statement in statements)
        {
            await connection.ExecuteAsync(statement);
        }
    }

    /// <summary>Deletes entry <paramref name="sequence"/>, renumbers and re-hashes the later ones, and makes the rest of the audit tables agree.</summary>
    public static async Task DeleteAndRenumberAsync(DbConnectionFactory db, long sequence)
    {
        var store = new AuditStore(db);
        var later = await AllAsync(store, sequence + 1);
        await using var connection = await db.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await connection.ExecuteAsync("DELETE FROM audit_log WHERE seq >= @sequence", new { sequence }, transaction);
        foreach (var row in later)
        {
            await InsertAsync(connection, transaction, row.ToEntry() with { Sequence = row.Sequence - 1 });
        }
        await transaction.CommitAsync();
        await RebuildTreeAsync(db);
        await connection.ExecuteAsync("DELETE FROM audit_checkpoints WHERE tree_size > @sequence", new { sequence });
    }

    /// <summary>Deletes the last entries and the checkpoints over them, and shrinks the tree to match.</summary>
    public static async Task TruncateAsync(DbConnectionFactory db, long size)
    {
        await using (var connection = await db.OpenAsync())
        {
            await connection.ExecuteAsync("DELETE FROM audit_log WHERE seq >= @size", new { size });
            await connection.ExecuteAsync("DELETE FROM audit_checkpoints WHERE tree_size > @size", new { size });
        }
        await RebuildTreeAsync(db);
    }

    /// <summary>Subtrees and frontier recomputed from the stored leaf hashes, as a careful forger leaves them.</summary>
    public static async Task RebuildTreeAsync(DbConnectionFactory db)
    {
        var rows = await AllAsync(new AuditStore(db), 0);
        var range = new CompactRange();
        var nodes = new List<object>();
        foreach (var row in rows)
        {
            range.Append(row.LeafHash, (level, index, hash) => nodes.Add(new { Level = level, Index = index, Hash = hash }));
        }
        await using var connection = await db.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await connection.ExecuteAsync("DELETE FROM audit_tree_nodes", transaction: transaction);
        await connection.ExecuteAsync("INSERT INTO audit_tree_nodes (level, idx, hash) VALUES (@Level, @Index, @Hash)", nodes, transaction);
        await connection.ExecuteAsync("UPDATE audit_frontier SET tree_size = @Size, hashes = @Hashes, last_time = @LastTime WHERE id = 1",
            new { range.Size, Hashes = range.ToBytes(), LastTime = rows.Count > 0 ? rows[^1].Time.ToUniversalTime() : (DateTimeOffset?)null }, transaction);
        await transaction.CommitAsync();
    }

    public static async Task ExecuteAsync(DbConnectionFactory db, string sql, object? parameters = null)
    {
        await using var connection = await db.OpenAsync();
        await connection.ExecuteAsync(sql, parameters);
    }

    public static async Task<List<AuditRow>> AllAsync(AuditStore store, long from)
    {
        var all = new List<AuditRow>();
        while (true)
        {
            var page = await store.EntriesAsync(from, long.MaxValue, 1_000);
            all.AddRange(page);
            if (page.Count < 1_000)
            {
                return all;
            }
            from = page[^1].Sequence + 1;
        }
    }

    private static Task InsertAsync(DbConnection connection, DbTransaction transaction, AuditEntry entry) =>
        connection.ExecuteAsync(InsertEntry, new
        {
            entry.Sequence,
            Time = entry.Time.ToUniversalTime(),
            entry.Kind,
            entry.Actor,
            entry.SubjectRef,
            entry.Purpose,
            entry.GrantId,
            entry.PolicyHash,
            entry.Payload,
            Sealed = entry.SealedPersonalData,
            LeafHash = entry.LeafHash(),
        }, transaction);
}

/// <summary>Keeps every log line written through it, for tests that check what was logged and at which level.</summary>
internal sealed class CapturingLoggerProvider : ILoggerProvider
{
    public ConcurrentQueue<(string Category, LogLevel Level, string Message)> Lines { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public ILogger<T> For<T>() => new Logger<T>(new Factory(this));

    public void Dispose()
    {
    }

    private sealed class Factory(CapturingLoggerProvider provider) : ILoggerFactory
    {
        public ILogger CreateLogger(string categoryName) => provider.CreateLogger(categoryName);

        public void AddProvider(ILoggerProvider loggerProvider)
        {
        }

        public void Dispose()
        {
        }
    }

    private sealed class Logger(CapturingLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            provider.Lines.Enqueue((category, logLevel, formatter(state, exception)));
    }
}
