using System.Data.Common;
using Dapper;

namespace InfoBank.Server.Infrastructure.Db;

/// <summary>
/// An open connection, with the transaction it works in (none for a read-only session). Every store
/// method takes one, so the caller decides what is read together and what commits together; stores
/// never open, begin or commit anything themselves. Sessions come from three places only:
/// <see cref="DbSessions.ReadAsync{T}"/> (reads), <see cref="DbSessions.InTransactionAsync{T}"/>
/// (a change nobody audits, such as a fetch reservation) and the audit log's
/// <c>IAuditLog.CommitAsync</c> (every audited change).
/// </summary>
public sealed class DbSession(DbConnection connection, DbTransaction? transaction, SqlDialect dialect)
{
    public DbConnection Connection { get; } = connection;

    /// <summary>The transaction, or null for a read-only session.</summary>
    public DbTransaction? Transaction { get; } = transaction;

    /// <summary>The transaction of a session that writes; a write on a read-only session is a bug.</summary>
    public DbTransaction WriteTransaction => Transaction
        ?? throw new InvalidOperationException("This session is read-only; writes need a transaction (IAuditLog.CommitAsync or InTransactionAsync).");

    public SqlDialect Dialect { get; } = dialect;

    public DatabaseProvider Provider => Dialect.Provider;

    public CommandDefinition Command(string sql, object? parameters = null, CancellationToken cancellationToken = default) =>
        new(sql, parameters, Transaction, cancellationToken: cancellationToken);

    public Task<int> ExecuteAsync(string sql, object? parameters = null, CancellationToken cancellationToken = default) =>
        Connection.ExecuteAsync(Command(sql, parameters, cancellationToken));

    public Task<T?> ExecuteScalarAsync<T>(string sql, object? parameters = null, CancellationToken cancellationToken = default) =>
        Connection.ExecuteScalarAsync<T>(Command(sql, parameters, cancellationToken));

    public async Task<List<T>> QueryAsync<T>(string sql, object? parameters = null, CancellationToken cancellationToken = default) =>
        (await Connection.QueryAsync<T>(Command(sql, parameters, cancellationToken))).AsList();

    public Task<T?> QuerySingleOrDefaultAsync<T>(string sql, object? parameters = null, CancellationToken cancellationToken = default) =>
        Connection.QuerySingleOrDefaultAsync<T>(Command(sql, parameters, cancellationToken));

    public Task<T> QuerySingleAsync<T>(string sql, object? parameters = null, CancellationToken cancellationToken = default) =>
        Connection.QuerySingleAsync<T>(Command(sql, parameters, cancellationToken));

    /// <summary>A raw command in this transaction, for the few statements built parameter by parameter.</summary>
    public DbCommand CreateCommand()
    {
        var command = Connection.CreateCommand();
        command.Transaction = Transaction;
        return command;
    }
}

public static class DbSessions
{
    /// <summary>Runs <paramref name="work"/> on a connection of its own with no transaction (each statement sees what is committed).</summary>
    public static async Task<T> ReadAsync<T>(this DbConnectionFactory db, Func<DbSession, Task<T>> work, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        return await work(new DbSession(connection, null, db.Dialect));
    }

    /// <summary>
    /// Runs <paramref name="work"/> in a transaction of its own and commits it when the work returns;
    /// an exception rolls everything back. For changes that are not audited (bookkeeping such as
    /// fetch reservations); audited changes go through <c>IAuditLog.CommitAsync</c> instead.
    /// </summary>
    public static async Task<T> InTransactionAsync<T>(this DbConnectionFactory db, Func<DbSession, Task<T>> work, CancellationToken cancellationToken = default)
    {
        await using var connection = await db.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var result = await work(new DbSession(connection, transaction, db.Dialect));
        await transaction.CommitAsync(cancellationToken);
        return result;
    }
}
