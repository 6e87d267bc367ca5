using System.Text.Json.Serialization;

namespace MyClusteredApp;

internal sealed record ClusterView(
    [property: JsonPropertyName("current_node")] string CurrentNode,
    [property: JsonPropertyName("connected_nodes")] string[] ConnectedNodes);

internal sealed record PingResult(
    [property: JsonPropertyName("from")] string From,
    [property: JsonPropertyName("to")] string To,
    [property: JsonPropertyName("round_trip_ms")] double RoundTripMs,
    [property: JsonPropertyName("reply")] string Reply);

internal sealed record BroadcastResult(
    [property: JsonPropertyName("from")] string From,
    [property: JsonPropertyName("nodes")] int Nodes);

internal sealed record ReceivedMessage(
    [property: JsonPropertyName("from")] string From,
    [property: JsonPropertyName("text")] string Text,
    [property: JsonPropertyName("received_at")] DateTimeOffset ReceivedAt);

internal sealed record ErrorBody([property: JsonPropertyName("error")] string Error);

[JsonSerializable(typeof(ClusterView))]
[JsonSerializable(typeof(PingResult))]
[JsonSerializable(typeof(BroadcastResult))]
[JsonSerializable(typeof(ReceivedMessage[]))]
[JsonSerializable(typeof(ErrorBody))]
internal sealed partial class AppJson : JsonSerializerContext;
