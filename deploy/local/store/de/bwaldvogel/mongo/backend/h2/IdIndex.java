package de.bwaldvogel.mongo.backend.h2;

import de.bwaldvogel.mongo.backend.IndexKey;
import de.bwaldvogel.mongo.backend.KeyValue;
import de.bwaldvogel.mongo.bson.Document;
import org.h2.mvstore.MVMap;

import java.util.List;

/**
 * The `_id` index of a collection of the local document store (deploy/local/store.sh): the library's H2 index, except
 * that a query holding an `_id` equality or `$in` next to other conditions takes its candidates from this index (the
 * library read every document of the collection unless the query named `_id` alone); the library then checks each
 * candidate against the whole query, as it does for every indexed query, and as MongoDB and FerretDB do.
 *
 * Lookups descend the persistent index (an MVMap ordered by `IndexKeys`). An earlier version also kept every key in a
 * hash map: one entry (five objects) per document of the store, all of them in the old generation, where G1's mixed
 * collections had to scan the references into them.
 *
 * It lives in the library's package to extend its H2 index, whose constructor and hooks are package-private.
 */
public final class IdIndex extends H2UniqueIndex {
    private IdIndex(MVMap<KeyValue, Object> map, String name, List<IndexKey> keys, boolean sparse) {
        super(map, name, keys, sparse);
    }

    /** The `_id` index as this class; any other unique index as the library's. */
    static H2UniqueIndex of(MVMap<KeyValue, Object> map, String name, List<IndexKey> keys, boolean sparse) {
        if (keys.size() != 1 || !keys.get(0).getKey().equals("_id") || sparse) {
            return new H2UniqueIndex(map, name, keys, sparse);
        }
        return new IdIndex(map, name, keys, sparse);
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
