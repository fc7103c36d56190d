using System.Text.Json;
using System.Text.Json.Nodes;
using InfoBank.Core.Rules;
using YamlDotNet.RepresentationModel;

namespace InfoBank.Core.Applications;

/// <summary>Reads an application written in YAML (snake_case keys), for the CLI and policy test cases.</summary>
public static class ApplicationSpecYaml
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
    };

    public static ApplicationSpec Parse(YamlFile file, YamlNode node) => FromJson(file, node, YamlFile.ToJson(node));

    public static ApplicationSpec FromJson(YamlFile file, YamlNode node, JsonNode? json)
    {
        try
        {
            return json.Deserialize<ApplicationSpec>(Options) ?? throw file.Error(node, "the application is empty");
        }
        catch (JsonException e)
        {
            throw file.Error(node, "the application does not have the expected shape: " + e.Message);
        }
    }

    /// <summary>Deep-merges <paramref name="overlay"/> onto a copy of <paramref name="baseNode"/> (objects merge, everything else replaces).</summary>
    public static JsonNode? Merge(JsonNode? baseNode, JsonNode? overlay)
    {
        if (baseNode is JsonObject b && overlay is JsonObject o)
        {
            var result = (JsonObject)b.DeepClone();
            foreach (var (key, value) in o)
            {
                result[key] = Merge(result[key], value?.DeepClone());
            }
            return result;
        }
        return overlay?.DeepClone();
    }
}
