package de.bwaldvogel.mongo.backend.h2;

import de.bwaldvogel.mongo.backend.IndexKey;
import de.bwaldvogel.mongo.backend.KeyValue;
import de.bwaldvogel.mongo.backend.Missing;
import de.bwaldvogel.mongo.bson.Document;
import org.h2.mvstore.MVMap;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The `_id` index of a collection of the local document store (deploy/local/store.sh), as the library's H2 index
 * plus two changes that MongoDB and FerretDB behave like already:
 *
 * 1. Lookups come from memory: a hash map loaded from the persistent index (an MVMap, written as before) when the
 *    collection opens answers every lookup and uniqueness check, without descending the B-tree.
 * 2. A query holding an `_id` equality or `$in` next to other conditions takes its candidates from this index (the
 *    library read every document of the collection unless the query named `_id` alone); the library then checks
 *    each candidate against the whole query, as it does for every indexed query.
 *
 * It lives in the library's package to extend its H2 index, whose constructor and hooks are package-private.
 */
public final class IdIndex extends H2UniqueIndex {
    private final Map<KeyValue, Object> positions = new ConcurrentHashMap<>();

    private IdIndex(MVMap<KeyValue, Object> map, String name, List<IndexKey> keys, boolean sparse) {
        super(map, name, keys, sparse);
        for (Map.Entry<KeyValue, Object> e : super.getIterable()) {
            positions.put(e.getKey(), e.getValue());
        }
    }

    /** The `_id` index as this class; any other unique index as the library's. */
    static H2UniqueIndex of(MVMap<KeyValue, Object> map, String name, List<IndexKey> keys, boolean sparse) {
        if (keys.size() != 1 || !keys.get(0).getKey().equals("_id") || sparse) {
            return new H2UniqueIndex(map, name, keys, sparse);
        }
        return new IdIndex(map, name, keys, sparse);
    }

    @Override
    protected Object getPosition(KeyValue key) {
        return positions.get(key);
    }

    @Override
    protected boolean putKeyPosition(KeyValue key, Object position) {
        boolean added = super.putKeyPosition(key, position);
        if (added) {
            positions.put(key, Missing.ofNullable(position));  // what the library stores in its map
        }
        return added;
    }

    @Override
    protected Object removeDocument(KeyValue key) {
        positions.remove(key);
        return super.removeDocument(key);
    }

    @Override
    public void drop() {
        positions.clear();
        super.drop();
    }

    private static Document idPart(Document query) {
        Document part = new Document();
        part.put("_id", query.get("_id"));
        return part;
    }

    @Override
    public synchronized boolean canHandle(Document query) {
        return super.canHandle(query) || (query.containsKey("_id") && super.canHandle(idPart(query)));
    }

    @Override
    public synchronized Iterable<Object> getPositions(Document query) {
        return super.getPositions(super.canHandle(query) ? query : idPart(query));
    }
}
