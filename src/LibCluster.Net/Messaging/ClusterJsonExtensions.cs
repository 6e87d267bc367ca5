using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using LibCluster.Nodes;

namespace LibCluster.Messaging;

/// <summary>
/// Typed messaging over <see cref="ICluster"/> with System.Text.Json. Pass a <see cref="JsonTypeInfo{T}"/> from a
/// source-generated <c>JsonSerializerContext</c>, which keeps the app trimmable and AOT-friendly.
/// </summary>
public static class ClusterJsonExtensions
{
    /// <summary>Sends <paramref name="value"/> as JSON to a mailbox on a node.</summary>
    public static ValueTask SendAsync<T>(this ICluster cluster, NodeName node, string mailbox, T value, JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        return cluster.SendAsync(node, mailbox, JsonSerializer.SerializeToUtf8Bytes(value, typeInfo), cancellationToken);
    }

    /// <summary>Broadcasts <paramref name="value"/> as JSON to a mailbox on every node.</summary>
    public static ValueTask BroadcastAsync<T>(this ICluster cluster, string mailbox, T value, JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        return cluster.BroadcastAsync(mailbox, JsonSerializer.SerializeToUtf8Bytes(value, typeInfo), cancellationToken);
    }

    /// <summary>Sends a JSON request and reads the JSON reply.</summary>
    public static async ValueTask<TResponse?> RequestAsync<TRequest, TResponse>(
        this ICluster cluster, NodeName node, string mailbox, TRequest request, JsonTypeInfo<TRequest> requestTypeInfo, JsonTypeInfo<TResponse> responseTypeInfo, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        var reply = await cluster.RequestAsync(node, mailbox, JsonSerializer.SerializeToUtf8Bytes(request, requestTypeInfo), timeout, cancellationToken).ConfigureAwait(false);
        return JsonSerializer.Deserialize(reply.Payload.Span, responseTypeInfo);
    }

    /// <summary>Reads the message's payload as JSON.</summary>
    public static T? GetPayload<T>(this ClusterMessage message, JsonTypeInfo<T> typeInfo)
    {
        ArgumentNullException.ThrowIfNull(message);
        return JsonSerializer.Deserialize(message.Payload.Span, typeInfo);
    }

    /// <summary>Replies to a request with <paramref name="value"/> as JSON.</summary>
    public static ValueTask ReplyAsync<T>(this ClusterMessage message, T value, JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        return message.ReplyAsync(JsonSerializer.SerializeToUtf8Bytes(value, typeInfo), cancellationToken);
    }

    /// <summary>Reads the reply's payload as JSON.</summary>
    public static T? GetPayload<T>(this ClusterReply reply, JsonTypeInfo<T> typeInfo)
    {
        ArgumentNullException.ThrowIfNull(reply);
        return JsonSerializer.Deserialize(reply.Payload.Span, typeInfo);
    }
}
