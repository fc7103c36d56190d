using System.Globalization;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace InfoBank.Core.Rules;

/// <summary>
/// A rule or policy file is malformed. The message always names the file and the line, because the
/// person who must fix it is a committee secretary reading a start-up error, not a debugger.
/// </summary>
public sealed class RuleFileException(string file, long line, string problem)
    : Exception($"{file}:{line}: {problem}")
{
    public string File { get; } = file;

    public long Line { get; } = line;

    public string Problem { get; } = problem;
}

/// <summary>
/// Reads YAML through the representation model so every node keeps its line: each accessor
/// refuses a missing or mistyped member with the file and line of the offending node.
/// </summary>
public sealed class YamlFile
{
    private YamlFile(string path, YamlNode? root)
    {
        Path = path;
        Root = root;
    }

    public string Path { get; }

    public YamlNode? Root { get; }

    public static YamlFile Load(string path, string displayName) => Parse(System.IO.File.ReadAllText(path), displayName);

    public static YamlFile Parse(string text, string displayName)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new RuleFileException(displayName, e.Start.Line, "not valid YAML: " + (e.InnerException?.Message ?? e.Message));
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet's scanner sometimes fails without a mark (an unclosed flow collection):
            // replay the events to find the last line it understood.
            throw new RuleFileException(displayName, LastGoodLine(text), "not valid YAML: an unclosed [ or { or a misplaced character near here");
        }
        return new YamlFile(displayName, stream.Documents.Count == 0 ? null : stream.Documents[0].RootNode);
    }

    private static long LastGoodLine(string text)
    {
        var parser = new Parser(new StringReader(text));
        long line = 1;
        try
        {
            while (parser.MoveNext())
            {
                line = parser.Current?.End.Line ?? line;
            }
        }
        catch (Exception e) when (e is YamlException or InvalidOperationException)
        {
            // Expected: this is the failure being located.
        }
        return line;
    }

    public RuleFileException Error(YamlNode? node, string problem) => new(Path, node is null ? 1 : node.Start.Line, problem);

    public YamlMappingNode RootMap() => Root as YamlMappingNode ?? throw Error(Root, "the file must be a mapping (key: value) at the top");

    public YamlMappingNode Map(YamlNode node, string what) => node as YamlMappingNode ?? throw Error(node, $"{what} must be a mapping");

    public YamlSequenceNode Seq(YamlNode node, string what) => node as YamlSequenceNode ?? throw Error(node, $"{what} must be a list");

    public YamlNode? Optional(YamlMappingNode map, string key) =>
        map.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    public YamlNode Required(YamlMappingNode map, string key) =>
        Optional(map, key) ?? throw Error(map, $"missing '{key}'");

    public string Str(YamlMappingNode map, string key)
    {
        var node = Required(map, key);
        return node is YamlScalarNode { Value: { Length: > 0 } s } ? s : throw Error(node, $"'{key}' must be a non-empty text");
    }

    public string? OptionalStr(YamlMappingNode map, string key)
    {
        var node = Optional(map, key);
        return node is null ? null : node is YamlScalarNode s ? s.Value : throw Error(node, $"'{key}' must be a text");
    }

    public int Int(YamlMappingNode map, string key)
    {
        var node = Required(map, key);
        return node is YamlScalarNode s && int.TryParse(s.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n)
            ? n : throw Error(node, $"'{key}' must be a whole number");
    }

    public bool Bool(YamlMappingNode map, string key, bool fallback)
    {
        var node = Optional(map, key);
        if (node is null)
        {
            return fallback;
        }
        return node is YamlScalarNode { Value: "true" or "false" } s ? s.Value == "true" : throw Error(node, $"'{key}' must be true or false");
    }

    public IReadOnlyList<string> Strings(YamlMappingNode map, string key)
    {
        var node = Optional(map, key);
        if (node is null)
        {
            return [];
        }
        return Seq(node, $"'{key}'").Children
            .Select(c => c is YamlScalarNode { Value: { Length: > 0 } s } ? s : throw Error(c, $"'{key}' must be a list of texts"))
            .ToList();
    }

    public LocalizedText Text(YamlMappingNode map, string key)
    {
        var node = Map(Required(map, key), $"'{key}'");
        return new LocalizedText(Str(node, "ja"), Str(node, "en"));
    }

    /// <summary>Converts a YAML subtree to JSON so typed records can be bound with System.Text.Json.</summary>
    public static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode m => new JsonObject(m.Children.Select(c => KeyValuePair.Create(((YamlScalarNode)c.Key).Value ?? "", ToJson(c.Value)))),
        YamlSequenceNode s => new JsonArray(s.Children.Select(ToJson).ToArray()),
        YamlScalarNode s => Scalar(s),
        _ => null,
    };

    private static JsonNode? Scalar(YamlScalarNode s)
    {
        var value = s.Value ?? "";
        if (s.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted or ScalarStyle.Literal or ScalarStyle.Folded)
        {
            return JsonValue.Create(value);
        }
        return value switch
        {
            "" or "~" or "null" => null,
            "true" => JsonValue.Create(true),
            "false" => JsonValue.Create(false),
            _ when long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) => JsonValue.Create(l),
            _ when decimal.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => JsonValue.Create(d),
            _ => JsonValue.Create(value),
        };
    }
}
