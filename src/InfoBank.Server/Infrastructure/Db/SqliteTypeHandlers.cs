using System.Data;
using System.Globalization;
using Dapper;
using Microsoft.Data.Sqlite;

namespace InfoBank.Server.Infrastructure.Db;

/// <summary>
/// SQLite has no GUID or timestamp types: we store both as TEXT (GUIDs in "D" form, times as UTC
/// ISO-8601 so that text order is time order). Dapper's handlers are process-wide, so they only
/// change the representation for SQLite parameters and pass values through for the server databases.
/// </summary>
public static class SqliteTypeHandlers
{
    private static int _registered;

    public static void Register()
    {
        if (Interlocked.Exchange(ref _registered, 1) == 1)
        {
            return;
        }
        SqlMapper.AddTypeHandler(new GuidHandler());
        SqlMapper.AddTypeHandler(new DateTimeOffsetHandler());
    }

    /// <summary>The canonical text form of a time in SQLite; also usable in hand-written SQL parameters.</summary>
    public static string Format(DateTimeOffset value) =>
        value.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    private sealed class GuidHandler : SqlMapper.TypeHandler<Guid>
    {
        public override void SetValue(IDbDataParameter parameter, Guid value)
        {
            parameter.Value = parameter is SqliteParameter ? value.ToString("D") : value;
            if (parameter is SqliteParameter)
            {
                parameter.DbType = DbType.String;
            }
        }

        public override Guid Parse(object value) => value switch
        {
            Guid guid => guid,
            string text => Guid.Parse(text),
            byte[] bytes => new Guid(bytes),
            _ => throw new DataException($"Cannot read a GUID from a {value.GetType().Name}."),
        };
    }

    private sealed class DateTimeOffsetHandler : SqlMapper.TypeHandler<DateTimeOffset>
    {
        public override void SetValue(IDbDataParameter parameter, DateTimeOffset value)
        {
            if (parameter is SqliteParameter)
            {
                parameter.DbType = DbType.String;
                parameter.Value = Format(value);
            }
            else
            {
                // Npgsql writes timestamptz only from UTC values; SQL Server keeps the offset either way.
                parameter.Value = value.ToUniversalTime();
            }
        }

        public override DateTimeOffset Parse(object value) => value switch
        {
            DateTimeOffset dto => dto,
            DateTime dt => new DateTimeOffset(DateTime.SpecifyKind(dt, DateTimeKind.Utc)),
            string text => DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal),
            _ => throw new DataException($"Cannot read a timestamp from a {value.GetType().Name}."),
        };
    }
}
