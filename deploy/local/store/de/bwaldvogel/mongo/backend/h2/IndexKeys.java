package de.bwaldvogel.mongo.backend.h2;

import de.bwaldvogel.mongo.backend.KeyValue;
import de.bwaldvogel.mongo.backend.ValueComparator;
import org.h2.mvstore.WriteBuffer;
import org.h2.mvstore.type.BasicDataType;
import org.h2.mvstore.type.ObjectDataType;

import java.nio.ByteBuffer;
import java.util.Comparator;

/**
 * The keys of a unique index of the local document store (deploy/local/store.sh), ordered as MongoDB orders values.
 * The library keeps them in an MVMap with H2's default type, which can order its key class only by Java-serialising
 * both keys at every comparison: every insert into a collection paid that at each level of each unique index's
 * B-tree. Keys are still written to the file as the default type writes them.
 */
final class IndexKeys extends BasicDataType<KeyValue> {
    private static final Comparator<Object> ORDER = ValueComparator.ascWithoutListHandling();
    private final ObjectDataType serialised = new ObjectDataType();

    @Override
    public int compare(KeyValue a, KeyValue b) {
        int sizes = Integer.compare(a.size(), b.size());
        for (int i = 0; sizes == 0 && i < a.size(); i++) {
            int c = ORDER.compare(a.get(i), b.get(i));
            if (c != 0) {
                return c;
            }
        }
        return sizes;
    }

    @Override
    public int getMemory(KeyValue key) {
        return serialised.getMemory(key);
    }

    @Override
    public void write(WriteBuffer buffer, KeyValue key) {
        serialised.write(buffer, key);
    }

    @Override
    public KeyValue read(ByteBuffer buffer) {
        return (KeyValue) serialised.read(buffer);
    }

    @Override
    public KeyValue[] createStorage(int size) {
        return new KeyValue[size];
    }
}
