-- The products of the walkthrough. The column names follow the seed's
-- table, so that `select * from products` shows what the walkthrough shows.
-- Names are compared exactly (utf8mb4_bin): "TV" and "tv" are two products.
CREATE TABLE IF NOT EXISTS products (
    id           CHAR(32)       NOT NULL,
    `timestamp`  DATETIME(3)    NOT NULL,
    product_name VARCHAR(120)   NOT NULL,
    product_type VARCHAR(64)    NOT NULL,
    price        DECIMAL(12, 2) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY products_name (product_name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
