package de.bwaldvogel.mongo.backend.h2;

import de.bwaldvogel.mongo.backend.KeyValue;
import de.bwaldvogel.mongo.backend.ValueComparator;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.wire.bson.BsonDecoder;
import de.bwaldvogel.mongo.wire.bson.BsonEncoder;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.h2.mvstore.WriteBuffer;
import org.h2.mvstore.type.BasicDataType;
import org.h2.mvstore.type.ObjectDataType;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Comparator;

/**
 * The keys of a unique index of the local document store (deploy/local/store.sh), ordered as MongoDB orders values.
 * The library keeps them in an MVMap with H2's default type, which can order its key class only by Java-serialising
 * both keys at every comparison: every insert into a collection paid that at each level of each unique index's
 * B-tree. In the file a key is its values as a BSON document ({"0": ..., "1": ...}) after a 0 byte; a value BSON
 * cannot hold goes as H2 writes it by default, after a 1 byte.
 */
final class IndexKeys extends BasicDataType<KeyValue> {
    private static final Comparator<Object> ORDER = ValueComparator.ascWithoutListHandling();
    private static final byte BSON = 0;
    private static final byte JAVA = 1;
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

    /** An estimate, cheap to make: H2's default type counts any key of a class it does not know as 10 KB until it
     *  has serialised one, so index pages were split small and crowded every document out of the page cache. */
    @Override
    public int getMemory(KeyValue key) {
        int memory = 24;
        for (Object value : key) {
            memory += value instanceof String text ? 48 + text.length() : 32;
        }
        return memory;
    }

    @Override
    public void write(WriteBuffer buffer, KeyValue key) {
        Document values = new Document();
        for (int i = 0; i < key.size(); i++) {
            values.put(Integer.toString(i), key.get(i));
        }
        ByteBuf encoded = Unpooled.buffer(64);
        try {
            BsonEncoder.encodeDocument(values, encoded);
        } catch (IllegalArgumentException e) {
            buffer.put(JAVA);
            serialised.write(buffer, key);
            return;
        }
        buffer.put(BSON);
        buffer.put(encoded.nioBuffer());
    }

    @Override
    public KeyValue read(ByteBuffer buffer) {
        if (buffer.get() == JAVA) {
            return (KeyValue) serialised.read(buffer);
        }
        int start = buffer.position();
        int size = buffer.duplicate().order(ByteOrder.LITTLE_ENDIAN).getInt(start);
        byte[] bytes = new byte[size];
        buffer.get(bytes);
        return new KeyValue(BsonDecoder.decodeBson(Unpooled.wrappedBuffer(bytes)).values());
    }

    @Override
    public KeyValue[] createStorage(int size) {
        return new KeyValue[size];
    }
}
