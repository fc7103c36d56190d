using System.Globalization;

namespace InfoBank.Core.Rules;

/// <summary>
/// A value the rule language computes with: null, boolean, number, string, list or object.
/// Facts handed to rules are built from these, so rules never see CLR objects.
/// </summary>
public abstract record Value
{
    public static readonly Value Null = new NullValue();
    public static readonly Value True = new BoolValue(true);
    public static readonly Value False = new BoolValue(false);

    public static Value Of(bool value) => value ? True : False;

    public static Value Of(decimal value) => new NumberValue(value);

    public static Value Of(string? value) => value is null ? Null : new StringValue(value);

    public static Value Of(IEnumerable<string> values) => new ListValue(values.Select(v => (Value)new StringValue(v)).ToList());

    public static Value Obj(params (string Key, Value Value)[] members) =>
        new ObjectValue(members.ToDictionary(m => m.Key, m => m.Value, StringComparer.Ordinal));

    public abstract string TypeName { get; }

    /// <summary>A compact, stable rendering used in evidence and error messages.</summary>
    public abstract string Render();

    /// <summary>Plain CLR shape (for JSON evidence): null, bool, decimal, string, list, dictionary.</summary>
    public abstract object? ToPlain();
}

public sealed record NullValue : Value
{
    public override string TypeName => "null";

    public override string Render() => "null";

    public override object? ToPlain() => null;
}

public sealed record BoolValue(bool Value) : Value
{
    public override string TypeName => "boolean";

    public override string Render() => Value ? "true" : "false";

    public override object? ToPlain() => Value;
}

public sealed record NumberValue(decimal Value) : Value
{
    public override string TypeName => "number";

    public override string Render() => Value.ToString(CultureInfo.InvariantCulture);

    public override object? ToPlain() => Value;
}

public sealed record StringValue(string Value) : Value
{
    public override string TypeName => "string";

    public override string Render() => "'" + Value + "'";

    public override object? ToPlain() => Value;
}

public sealed record ListValue(IReadOnlyList<Value> Items) : Value
{
    public override string TypeName => "list";

    public override string Render() => "[" + string.Join(", ", Items.Select(i => i.Render())) + "]";

    public override object? ToPlain() => Items.Select(i => i.ToPlain()).ToList();

    public bool Equals(ListValue? other) => other is not null && Items.SequenceEqual(other.Items);

    public override int GetHashCode() => Items.Count;
}

public sealed record ObjectValue(IReadOnlyDictionary<string, Value> Members) : Value
{
    public override string TypeName => "object";

    public override string Render() => "{" + string.Join(", ", Members.OrderBy(m => m.Key, StringComparer.Ordinal).Select(m => m.Key + ": " + m.Value.Render())) + "}";

    public override object? ToPlain() => Members.ToDictionary(m => m.Key, m => m.Value.ToPlain(), StringComparer.Ordinal);

    public bool Equals(ObjectValue? other) =>
        other is not null && Members.Count == other.Members.Count
        && Members.All(m => other.Members.TryGetValue(m.Key, out var v) && m.Value.Equals(v));

    public override int GetHashCode() => Members.Count;
}
