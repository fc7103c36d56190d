using System.Globalization;
using System.Text;

namespace InfoBank.Core.Rules;

/// <summary>
/// The rule language: a small, total expression language over facts. It has literals, dotted
/// paths into the facts, <c>and</c>/<c>or</c>/<c>not</c>, comparisons (<c>== != &lt; &lt;= &gt; &gt;=</c>),
/// <c>in</c>, <c>not in</c>, <c>subset</c>, <c>intersects</c>, the functions <c>count</c>, <c>diff</c>
/// and <c>intersect</c>, and bounded quantifiers <c>all(x in list: cond)</c> / <c>any(...)</c>.
/// There are no loops, no recursion and no user functions, so every evaluation terminates.
/// </summary>
public abstract record Expr
{
    /// <summary>Parses an expression; a <see cref="ExpressionSyntaxException"/> gives the column.</summary>
    public static Expr Parse(string text) => new ExpressionParser(text).ParseAll();

    /// <summary>Evaluates against the facts; an <see cref="ExpressionEvaluationException"/> says what did not fit.</summary>
    public Value Evaluate(IReadOnlyDictionary<string, Value> facts) => Eval(new Scope(facts, null, null, null));

    internal abstract Value Eval(Scope scope);

    /// <summary>The top-level fact names the expression reads (bound quantifier variables excluded).</summary>
    public IReadOnlySet<string> FreeRoots()
    {
        var roots = new HashSet<string>(StringComparer.Ordinal);
        CollectRoots(roots, []);
        return roots;
    }

    internal abstract void CollectRoots(HashSet<string> roots, IReadOnlyList<string> bound);

    internal sealed record Scope(IReadOnlyDictionary<string, Value> Facts, string? Name, Value? Bound, Scope? Outer)
    {
        public bool TryLookup(string name, out Value value)
        {
            for (var s = this; s is not null; s = s.Outer)
            {
                if (s.Name == name && s.Bound is not null)
                {
                    value = s.Bound;
                    return true;
                }
            }
            return Facts.TryGetValue(name, out value!);
        }
    }
}

public sealed class ExpressionSyntaxException(string message, int column) : Exception(message)
{
    /// <summary>1-based column within the expression text.</summary>
    public int Column { get; } = column;
}

public sealed class ExpressionEvaluationException(string message) : Exception(message);

internal sealed record LiteralExpr(Value Value) : Expr
{
    internal override Value Eval(Scope scope) => Value;

    internal override void CollectRoots(HashSet<string> roots, IReadOnlyList<string> bound) { }
}

internal sealed record ListExpr(IReadOnlyList<Expr> Items) : Expr
{
    internal override Value Eval(Scope scope) => new ListValue(Items.Select(i => i.Eval(scope)).ToList());

    internal override void CollectRoots(HashSet<string> roots, IReadOnlyList<string> bound)
    {
        foreach (var item in Items)
        {
            item.CollectRoots(roots, bound);
        }
    }
}

/// <summary>A dotted path; a missing member reads as null so optional facts can be tested with <c>== null</c>.</summary>
internal sealed record PathExpr(IReadOnlyList<string> Segments) : Expr
{
    internal override Value Eval(Scope scope)
    {
        if (!scope.TryLookup(Segments[0], out var current))
        {
            throw new ExpressionEvaluationException($"unknown fact '{Segments[0]}'");
        }
        for (var i = 1; i < Segments.Count; i++)
        {
            current = current switch
            {
                ObjectValue o => o.Members.TryGetValue(Segments[i], out var next) ? next : Value.Null,
                NullValue => Value.Null,
                _ => throw new ExpressionEvaluationException(
                    $"'{string.Join('.', Segments.Take(i))}' is a {current.TypeName}, it has no member '{Segments[i]}'"),
            };
        }
        return current;
    }

    internal override void CollectRoots(HashSet<string> roots, IReadOnlyList<string> bound)
    {
        if (!bound.Contains(Segments[0]))
        {
            roots.Add(Segments[0]);
        }
    }
}

internal sealed record NotExpr(Expr Operand) : Expr
{
    internal override Value Eval(Scope scope) => Value.Of(!Operators.Truth(Operand.Eval(scope), "not"));

    internal override void CollectRoots(HashSet<string> roots, IReadOnlyList<string> bound) => Operand.CollectRoots(roots, bound);
}

internal sealed record LogicExpr(bool IsAnd, Expr Left, Expr Right) : Expr
{
    // Short-circuit so that "output.kind == 'aggregate' and output.k < 10" is safe when k is absent.
    internal override Value Eval(Scope scope)
    {
        var op = IsAnd ? "and" : "or";
        var left = Operators.Truth(Left.Eval(scope), op);
        if (IsAnd ? !left : left)
        {
            return Value.Of(left);
        }
        return Value.Of(Operators.Truth(Right.Eval(scope), op));
    }

    internal override void CollectRoots(HashSet<string> roots, IReadOnlyList<string> bound)
    {
        Left.CollectRoots(roots, bound);
        Right.CollectRoots(roots, bound);
    }
}

internal sealed record BinaryExpr(string Op, Expr Left, Expr Right) : Expr
{
    internal override Value Eval(Scope scope) => Operators.Binary(Op, Left.Eval(scope), Right.Eval(scope));

    internal override void CollectRoots(HashSet<string> roots, IReadOnlyList<string> bound)
    {
        Left.CollectRoots(roots, bound);
        Right.CollectRoots(roots, bound);
    }
}

internal sealed record CallExpr(string Name, IReadOnlyList<Expr> Args) : Expr
{
    public static readonly IReadOnlyDictionary<string, int> Arity = new Dictionary<string, int>(StringComparer.Ordinal)
    {
        ["count"] = 1,
        ["diff"] = 2,
        ["intersect"] = 2,
    };

    internal override Value Eval(Scope scope)
    {
        var args = Args.Select(a => a.Eval(scope)).ToList();
        return Name switch
        {
            "count" => Value.Of(Operators.AsList(args[0], "count").Count),
            "diff" => new ListValue(Operators.AsList(args[0], "diff").Where(x => !Operators.AsList(args[1], "diff").Contains(x)).Distinct().ToList()),
            "intersect" => new ListValue(Operators.AsList(args[0], "intersect").Where(x => Operators.AsList(args[1], "intersect").Contains(x)).Distinct().ToList()),
            _ => throw new ExpressionEvaluationException($"unknown function '{Name}'"),
        };
    }

    internal override void CollectRoots(HashSet<string> roots, IReadOnlyList<string> bound)
    {
        foreach (var arg in Args)
        {
            arg.CollectRoots(roots, bound);
        }
    }
}

/// <summary><c>all(x in list: condition)</c> / <c>any(...)</c>: bounded by the list, so still total.</summary>
internal sealed record QuantifierExpr(bool IsAll, string Variable, Expr Source, Expr Condition) : Expr
{
    internal override Value Eval(Scope scope)
    {
        var items = Operators.AsList(Source.Eval(scope), IsAll ? "all" : "any");
        foreach (var item in items)
        {
            var holds = Operators.Truth(Condition.Eval(new Scope(scope.Facts, Variable, item, scope)), IsAll ? "all" : "any");
            if (IsAll != holds)
            {
                return Value.Of(!IsAll);
            }
        }
        return Value.Of(IsAll);
    }

    internal override void CollectRoots(HashSet<string> roots, IReadOnlyList<string> bound)
    {
        Source.CollectRoots(roots, bound);
        Condition.CollectRoots(roots, [.. bound, Variable]);
    }
}

internal static class Operators
{
    public static bool Truth(Value value, string op) => value switch
    {
        BoolValue b => b.Value,
        _ => throw new ExpressionEvaluationException($"'{op}' needs a boolean but got {value.TypeName} {value.Render()}"),
    };

    public static IReadOnlyList<Value> AsList(Value value, string op) => value switch
    {
        ListValue l => l.Items,
        _ => throw new ExpressionEvaluationException($"'{op}' needs a list but got {value.TypeName} {value.Render()}"),
    };

    public static Value Binary(string op, Value left, Value right) => op switch
    {
        "==" => Value.Of(left.Equals(right)),
        "!=" => Value.Of(!left.Equals(right)),
        "<" => Value.Of(Compare(op, left, right) < 0),
        "<=" => Value.Of(Compare(op, left, right) <= 0),
        ">" => Value.Of(Compare(op, left, right) > 0),
        ">=" => Value.Of(Compare(op, left, right) >= 0),
        "in" => Value.Of(AsList(right, "in").Contains(left)),
        "not in" => Value.Of(!AsList(right, "not in").Contains(left)),
        "subset" => Value.Of(AsList(left, "subset").All(AsList(right, "subset").Contains)),
        "intersects" => Value.Of(AsList(left, "intersects").Any(AsList(right, "intersects").Contains)),
        _ => throw new ExpressionEvaluationException($"unknown operator '{op}'"),
    };

    private static int Compare(string op, Value left, Value right) => (left, right) switch
    {
        (NumberValue a, NumberValue b) => a.Value.CompareTo(b.Value),
        (StringValue a, StringValue b) => string.CompareOrdinal(a.Value, b.Value),
        _ => throw new ExpressionEvaluationException(
            $"'{op}' cannot compare {left.TypeName} {left.Render()} with {right.TypeName} {right.Render()}"),
    };
}

internal sealed class ExpressionParser(string text)
{
    private static readonly string[] Comparisons = ["==", "!=", "<=", ">=", "<", ">"];
    private static readonly HashSet<string> Keywords = ["and", "or", "not", "in", "subset", "intersects", "true", "false", "null", "all", "any"];
    private int _pos;

    public Expr ParseAll()
    {
        var expr = ParseOr();
        SkipSpace();
        if (_pos < text.Length)
        {
            throw Error($"unexpected '{text[_pos..]}'");
        }
        return expr;
    }

    private Expr ParseOr()
    {
        var left = ParseAnd();
        while (TryKeyword("or"))
        {
            left = new LogicExpr(false, left, ParseAnd());
        }
        return left;
    }

    private Expr ParseAnd()
    {
        var left = ParseNot();
        while (TryKeyword("and"))
        {
            left = new LogicExpr(true, left, ParseNot());
        }
        return left;
    }

    private Expr ParseNot() => TryKeyword("not") ? new NotExpr(ParseNot()) : ParseComparison();

    private Expr ParseComparison()
    {
        var left = ParseTerm();
        SkipSpace();
        foreach (var op in Comparisons)
        {
            if (string.CompareOrdinal(text, _pos, op, 0, op.Length) == 0)
            {
                _pos += op.Length;
                return new BinaryExpr(op, left, ParseTerm());
            }
        }
        var save = _pos;
        if (TryKeyword("not"))
        {
            if (TryKeyword("in"))
            {
                return new BinaryExpr("not in", left, ParseTerm());
            }
            _pos = save;
        }
        foreach (var word in new[] { "in", "subset", "intersects" })
        {
            if (TryKeyword(word))
            {
                return new BinaryExpr(word, left, ParseTerm());
            }
        }
        return left;
    }

    private Expr ParseTerm()
    {
        SkipSpace();
        if (_pos >= text.Length)
        {
            throw Error("expression ends where a value was expected");
        }
        var c = text[_pos];
        if (c == '(')
        {
            _pos++;
            var inner = ParseOr();
            Expect(')');
            return inner;
        }
        if (c == '[')
        {
            return ParseList();
        }
        if (c is '\'' or '"')
        {
            return new LiteralExpr(Value.Of(ReadString(c)));
        }
        if (char.IsAsciiDigit(c) || (c == '-' && _pos + 1 < text.Length && char.IsAsciiDigit(text[_pos + 1])))
        {
            return ParseNumber();
        }
        if (IsIdentStart(c))
        {
            return ParseNamed();
        }
        throw Error($"unexpected '{c}'");
    }

    // [a, b, …] or [].
    private ListExpr ParseList()
    {
        _pos++;
        var items = new List<Expr>();
        SkipSpace();
        if (Peek(']'))
        {
            _pos++;
            return new ListExpr(items);
        }
        do
        {
            items.Add(ParseOr());
            SkipSpace();
        }
        while (TryChar(','));
        Expect(']');
        return new ListExpr(items);
    }

    private LiteralExpr ParseNumber()
    {
        var start = _pos++;
        while (_pos < text.Length && (char.IsAsciiDigit(text[_pos]) || text[_pos] == '.'))
        {
            _pos++;
        }
        if (!decimal.TryParse(text[start.._pos], NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
        {
            throw Error($"'{text[start.._pos]}' is not a number", start);
        }
        return new LiteralExpr(Value.Of(number));
    }

    // What starts with a name: a constant, a quantifier, a function call or a dotted path.
    private Expr ParseNamed()
    {
        var start = _pos;
        var name = ReadIdent();
        switch (name)
        {
            case "true": return new LiteralExpr(Value.True);
            case "false": return new LiteralExpr(Value.False);
            case "null": return new LiteralExpr(Value.Null);
            case "all" or "any" when PeekAfterSpace('('):
                return ParseQuantifier(name == "all");
        }
        if (Keywords.Contains(name))
        {
            throw Error($"'{name}' cannot start a value", start);
        }
        return PeekAfterSpace('(') ? ParseCall(name, start) : ParsePath(name);
    }

    // name(arg, …), with the argument count the function takes.
    private CallExpr ParseCall(string name, int start)
    {
        if (!CallExpr.Arity.TryGetValue(name, out var arity))
        {
            throw Error($"unknown function '{name}' (functions: count, diff, intersect, all, any)", start);
        }
        SkipSpace();
        _pos++;
        var args = new List<Expr>();
        SkipSpace();
        if (!Peek(')'))
        {
            do
            {
                args.Add(ParseOr());
                SkipSpace();
            }
            while (TryChar(','));
        }
        Expect(')');
        if (args.Count != arity)
        {
            throw Error($"'{name}' takes {arity} argument(s), got {args.Count}", start);
        }
        return new CallExpr(name, args);
    }

    // name.segment.segment…, its first name already read.
    private PathExpr ParsePath(string name)
    {
        var segments = new List<string> { name };
        while (_pos < text.Length && text[_pos] == '.')
        {
            _pos++;
            if (_pos >= text.Length || !IsIdentStart(text[_pos]))
            {
                throw Error("a name must follow '.'");
            }
            segments.Add(ReadIdent());
        }
        return new PathExpr(segments);
    }

    private QuantifierExpr ParseQuantifier(bool isAll)
    {
        SkipSpace();
        Expect('(');
        SkipSpace();
        if (_pos >= text.Length || !IsIdentStart(text[_pos]))
        {
            throw Error($"'{(isAll ? "all" : "any")}' needs a variable: all(x in list: condition)");
        }
        var variable = ReadIdent();
        if (!TryKeyword("in"))
        {
            throw Error($"expected 'in' after '{variable}'");
        }
        var source = ParseOr();
        SkipSpace();
        Expect(':');
        var condition = ParseOr();
        SkipSpace();
        Expect(')');
        return new QuantifierExpr(isAll, variable, source, condition);
    }

    private string ReadString(char quote)
    {
        var start = _pos++;
        var builder = new StringBuilder();
        while (_pos < text.Length && text[_pos] != quote)
        {
            builder.Append(text[_pos++]);
        }
        if (_pos >= text.Length)
        {
            throw Error("string is not closed", start);
        }
        _pos++;
        return builder.ToString();
    }

    private string ReadIdent()
    {
        var start = _pos;
        while (_pos < text.Length && (IsIdentStart(text[_pos]) || char.IsAsciiDigit(text[_pos])))
        {
            _pos++;
        }
        return text[start.._pos];
    }

    private static bool IsIdentStart(char c) => char.IsAsciiLetter(c) || c == '_';

    private bool TryKeyword(string word)
    {
        SkipSpace();
        var end = _pos + word.Length;
        if (end <= text.Length && string.CompareOrdinal(text, _pos, word, 0, word.Length) == 0
            && (end == text.Length || !(IsIdentStart(text[end]) || char.IsAsciiDigit(text[end]))))
        {
            _pos = end;
            return true;
        }
        return false;
    }

    private bool TryChar(char c)
    {
        SkipSpace();
        if (Peek(c))
        {
            _pos++;
            return true;
        }
        return false;
    }

    private bool Peek(char c) => _pos < text.Length && text[_pos] == c;

    private bool PeekAfterSpace(char c)
    {
        var p = _pos;
        while (p < text.Length && char.IsWhiteSpace(text[p]))
        {
            p++;
        }
        return p < text.Length && text[p] == c;
    }

    private void Expect(char c)
    {
        SkipSpace();
        if (!Peek(c))
        {
            throw Error(_pos < text.Length ? $"expected '{c}' but found '{text[_pos]}'" : $"expected '{c}' but the expression ended");
        }
        _pos++;
    }

    private void SkipSpace()
    {
        while (_pos < text.Length && char.IsWhiteSpace(text[_pos]))
        {
            _pos++;
        }
    }

    private ExpressionSyntaxException Error(string message, int? at = null) => new(message, (at ?? _pos) + 1);
}
