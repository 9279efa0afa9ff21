package de.bwaldvogel.mongo.backend.h2;

import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.wire.bson.BsonDecoder;
import de.bwaldvogel.mongo.wire.bson.BsonEncoder;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.h2.mvstore.WriteBuffer;
import org.h2.mvstore.type.BasicDataType;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * How the local document store (deploy/local/store.sh) writes a collection's documents into its MVStore file: as
 * BSON, the format MongoDB and FerretDB keep them in, instead of the library's default, Java serialisation of its
 * document class. Java serialisation took two thirds of the store's CPU under write loads and about 5 KB per small
 * document. Each stored version of a document keeps its encoding, so a commit that rewrites a page copies the bytes
 * of the page's unchanged documents instead of encoding them again.
 */
final class BsonDocuments extends BasicDataType<BsonDocuments.Stored> {
    /** One stored version of a document. The library changes a document it read in place before storing it again
     *  (always through a new `Stored`), so an encoding belongs to the version it was made from. */
    static final class Stored {
        private final Document document;
        private volatile byte[] encoded;

        Stored(Document document) {
            this(document, null);
        }

        private Stored(Document document, byte[] encoded) {
            this.document = document;
            this.encoded = encoded;
        }

        Document document() {
            return document;
        }

        byte[] encoded() {
            byte[] bytes = encoded;
            if (bytes == null) {
                ByteBuf buffer = Unpooled.buffer(512);
                BsonEncoder.encodeDocument(document, buffer);
                bytes = new byte[buffer.readableBytes()];
                buffer.readBytes(bytes);
                encoded = bytes;
            }
            return bytes;
        }
    }

    /** Before its first encoding a document's size is taken as the average of those encoded, as H2's types do. */
    private volatile int averageSize = 512;

    @Override
    public int getMemory(Stored stored) {
        byte[] bytes = stored.encoded;
        return 2 * (bytes == null ? averageSize : bytes.length);  // the decoded document, and its encoding
    }

    @Override
    public void write(WriteBuffer buffer, Stored stored) {
        byte[] bytes = stored.encoded();
        buffer.put(bytes);
        averageSize = (bytes.length + 15 * averageSize) / 16;
    }

    @Override
    public Stored read(ByteBuffer buffer) {
        int start = buffer.position();
        int size = buffer.duplicate().order(ByteOrder.LITTLE_ENDIAN).getInt(start);
        byte[] bytes = new byte[size];
        buffer.get(bytes);
        return new Stored(BsonDecoder.decodeBson(Unpooled.wrappedBuffer(bytes)), bytes);
    }

    @Override
    public Stored[] createStorage(int size) {
        return new Stored[size];
    }
}
